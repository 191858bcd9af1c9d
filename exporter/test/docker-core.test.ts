// The Docker domain's pure parts: endpoint configuration, normalising the Engine API's JSON,
// the IPAM reconciliation plan, network overlaps; and the service's reconnection with `since`
// against a scripted engine.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, after, describe, it } from 'node:test';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../src/config/load.js';
import type { DockerClient, DockerEvent } from '../src/docker/client.js';
import { parseEndpointUrl, parseHostList, showTarget } from '../src/docker/core/endpoints.js';
import { type Container, containerFromInspect, networkFromApi, statsFromApi } from '../src/docker/core/model.js';
import {
  type AddressRef,
  hostnameFor,
  networkOverlaps,
  planAddresses,
  planSubnets,
} from '../src/docker/core/reconcile.js';
import { DockerService } from '../src/docker/service.js';
import { IpamService } from '../src/ipam/service.js';
import { Store } from '../src/store/store.js';
import { bridgeNetwork, runningContainer } from './helpers/docker-model.js';
import { openTestStore } from './helpers/store.js';

const dir = mkdtempSync(join(tmpdir(), 'lanscape-docker-core-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configProblems(env: Record<string, string>, yaml?: string): string[] {
  let file: string | undefined;
  if (yaml !== undefined) {
    file = join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, yaml);
  }
  try {
    loadConfig(env, file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('endpoint configuration', () => {
  it('parses the three URL forms with default ports', () => {
    assert.deepEqual(parseEndpointUrl('unix:///var/run/docker.sock'), { kind: 'unix', path: '/var/run/docker.sock' });
    assert.deepEqual(parseEndpointUrl('tcp://nas:2376'), { kind: 'tcp', host: 'nas', port: 2376 });
    assert.deepEqual(parseEndpointUrl('tcp://nas.lan'), { kind: 'tcp', host: 'nas.lan', port: 2376 });
    assert.deepEqual(parseEndpointUrl('http://10.0.0.5'), { kind: 'http', host: '10.0.0.5', port: 2375 });
    assert.deepEqual(parseEndpointUrl('http://[fd00::5]:2375/'), { kind: 'http', host: 'fd00::5', port: 2375 });
    assert.equal(showTarget({ kind: 'http', host: 'fd00::5', port: 2375 }), 'http://[fd00::5]:2375');
    for (const bad of [
      'nas:2376',
      'ssh://nas',
      'tcp://',
      'tcp://nas:99999',
      'tcp://nas/api',
      'unix://relative.sock',
      'tcp://-bad-:1',
    ]) {
      assert.equal(typeof parseEndpointUrl(bad), 'string', bad);
    }
    assert.match(parseEndpointUrl('tcp://user:secret@nas:2376') as string, /credentials/);
    assert.doesNotMatch(
      parseEndpointUrl('tcp://user:secret@nas:2376') as string,
      /secret/,
      'the message does not repeat them',
    );
  });

  it('parses name=url lists', () => {
    assert.deepEqual(parseHostList(' local=unix:///var/run/docker.sock , nas=tcp://nas:2376,'), [
      { name: 'local', url: 'unix:///var/run/docker.sock' },
      { name: 'nas', url: 'tcp://nas:2376' },
    ]);
    assert.match(parseHostList('local') as string, /not name=url/);
    assert.match(parseHostList('a=unix:///x,a=unix:///y') as string, /used twice/);
    assert.match(parseHostList('NAS=unix:///x') as string, /not an endpoint name/);
  });

  it('takes endpoints from LANSCAPE_DOCKER_HOSTS, several at once, with defaults', () => {
    const c = loadConfig({ LANSCAPE_DOCKER_HOSTS: 'local=unix:///var/run/docker.sock,proxy=http://socket-proxy:2375' });
    assert.deepEqual(
      c.docker.endpoints.map((e) => [e.name, e.target.kind]),
      [
        ['local', 'unix'],
        ['proxy', 'http'],
      ],
    );
    assert.equal(c.docker.resync_seconds, 300);
    assert.equal(c.docker.stats, true);
    assert.deepEqual(loadConfig({}).docker.endpoints, []);
  });

  it('the environment replaces the YAML list; TLS files come from the YAML entry of the same name', () => {
    const yaml = [
      'docker:',
      '  endpoints:',
      '    - name: nas',
      '      tls: { ca_file: /etc/lanscape/ca.pem, cert_file: /etc/lanscape/cert.pem, key_file: /etc/lanscape/key.pem }',
      '    - name: old',
      '      url: unix:///old.sock',
      '  stats_interval_seconds: 10',
      '',
    ].join('\n');
    const file = join(dir, 'tls.yaml');
    writeFileSync(file, yaml);
    const c = loadConfig({ LANSCAPE_DOCKER_HOSTS: 'nas=tcp://nas:2376', LANSCAPE_DOCKER_RESYNC_SECONDS: '60' }, file);
    assert.deepEqual(
      c.docker.endpoints.map((e) => e.name),
      ['nas'],
    );
    assert.equal(c.docker.endpoints[0]!.tls?.ca_file, '/etc/lanscape/ca.pem');
    assert.equal(c.docker.resync_seconds, 60);
    assert.equal(c.docker.stats_interval_seconds, 10);
    // Without the environment the YAML list applies, and an entry needs its url.
    const problems = configProblems({}, yaml);
    assert.ok(
      problems.some((p) => p.startsWith('docker.endpoints.0.url') && p.includes('endpoint "nas" needs a url')),
      problems.join('\n'),
    );
  });

  it('refuses tcp:// without TLS and says how to ask for plaintext', () => {
    const [p] = configProblems({ LANSCAPE_DOCKER_HOSTS: 'nas=tcp://nas:2376' });
    assert.match(
      p!,
      /^docker\.hosts \(from LANSCAPE_DOCKER_HOSTS\) = "nas=tcp:\/\/nas:2376": endpoint "nas": tcp:\/\/nas:2376 needs TLS files/,
    );
    assert.match(p!, /write http:\/\/nas:2376/);
  });

  it('names the key, the source and what is allowed for bad values', () => {
    assert.match(
      configProblems({ LANSCAPE_DOCKER_HOSTS: 'local=/var/run/docker.sock' })[0]!,
      /expected unix:\/\/\/path\/docker\.sock, tcp:\/\/host:2376 \(TLS\) or http:\/\/host:2375/,
    );
    assert.match(
      configProblems({ LANSCAPE_DOCKER_HOSTS: 'a=unix:///a.sock,a=unix:///b.sock' })[0]!,
      /endpoint name "a" is used twice/,
    );
    assert.match(
      configProblems({ LANSCAPE_DOCKER_RESYNC_SECONDS: '5' })[0]!,
      /^docker\.resync_seconds \(from LANSCAPE_DOCKER_RESYNC_SECONDS\) = 5:/,
    );
    const yamlDup = configProblems(
      {},
      'docker:\n  endpoints:\n    - { name: a, url: "unix:///a.sock" }\n    - { name: a, url: "unix:///b.sock" }\n',
    );
    assert.ok(
      yamlDup.some((p) => p.startsWith('docker.endpoints.1.name') && p.includes('used twice')),
      yamlDup.join('\n'),
    );
    const tlsOnUnix = configProblems(
      {},
      'docker:\n  endpoints:\n    - name: a\n      url: unix:///a.sock\n      tls: { ca_file: /a, cert_file: /b, key_file: /c }\n',
    );
    assert.ok(
      tlsOnUnix.some((p) => p.startsWith('docker.endpoints.0.tls') && p.includes('tcp:// endpoints only')),
      tlsOnUnix.join('\n'),
    );
    const partialTls = configProblems(
      {},
      'docker:\n  endpoints:\n    - name: a\n      url: tcp://a:2376\n      tls: { ca_file: /a }\n',
    );
    assert.ok(
      partialTls.some((p) => p.startsWith('docker.endpoints.0.tls.cert_file')),
      partialTls.join('\n'),
    );
  });
});

describe('normalising Engine API objects', () => {
  it('reads a container inspect', () => {
    const c = containerFromInspect({
      Id: 'abc',
      Name: '/web_1',
      Created: '2026-01-01T00:00:00Z',
      RestartCount: 3,
      Image: 'sha256:1',
      State: {
        Status: 'running',
        ExitCode: 0,
        StartedAt: '2026-01-02T00:00:00.5Z',
        FinishedAt: '0001-01-01T00:00:00Z',
        Health: { Status: 'unhealthy' },
      },
      Config: {
        Image: 'nginx:1.27',
        Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web' },
      },
      NetworkSettings: {
        Networks: {
          front: {
            NetworkID: 'n1',
            IPAddress: '172.31.250.10',
            GlobalIPv6Address: 'fd00:0::a',
            MacAddress: '02:42:AC:1F:FA:0A',
            IPAMConfig: { IPv4Address: '172.31.250.10' },
          },
          back: { NetworkID: 'n2', IPAddress: '', MacAddress: '', IPAMConfig: null },
        },
      },
    });
    assert.equal(c.name, 'web_1');
    assert.equal(c.image, 'nginx:1.27');
    assert.equal(c.state, 'running');
    assert.equal(c.health, 'unhealthy');
    assert.equal(c.restart_count, 3);
    assert.equal(c.started_at, Date.parse('2026-01-02T00:00:00.5Z'));
    assert.equal(c.finished_at, null, '0001-01-01 means never');
    assert.equal(c.compose_project, 'shop');
    assert.deepEqual(
      c.networks.map((n) => n.network),
      ['back', 'front'],
    );
    assert.deepEqual(c.networks[1], {
      network: 'front',
      network_id: 'n1',
      ipv4: '172.31.250.10',
      ipv6: 'fd00::a',
      static_ipv4: '172.31.250.10',
      static_ipv6: null,
      mac: '02:42:ac:1f:fa:0a',
    });
    assert.deepEqual(c.networks[0], {
      network: 'back',
      network_id: 'n2',
      ipv4: null,
      ipv6: null,
      static_ipv4: null,
      static_ipv6: null,
      mac: null,
    });
    const bare = containerFromInspect({ Id: 'x', Name: '/x', State: { Status: 'weird' } });
    assert.equal(bare.state, 'dead');
    assert.equal(bare.health, 'none');
    assert.deepEqual(bare.networks, []);
  });

  it('reads networks (pools only with an IPAM config) and one-shot stats', () => {
    const n = networkFromApi({
      Id: 'n1',
      Name: 'front',
      Driver: 'bridge',
      Scope: 'local',
      Internal: true,
      IPAM: {
        Config: [
          { Subnet: '172.31.250.0/24', Gateway: '172.31.250.1', IPRange: '172.31.250.128/25' },
          { Subnet: 'bogus' },
        ],
      },
    });
    assert.deepEqual(n.subnets, [{ cidr: '172.31.250.0/24', gateway: '172.31.250.1', ip_range: '172.31.250.128/25' }]);
    assert.equal(n.internal, true);
    assert.deepEqual(networkFromApi({ Id: 'h', Name: 'host', Driver: 'host', IPAM: { Config: null } }).subnets, []);
    const v2 = statsFromApi(
      {
        cpu_stats: { cpu_usage: { total_usage: 2_500_000_000 } },
        memory_stats: { usage: 10_000, stats: { inactive_file: 4_000 } },
      },
      1,
    );
    assert.deepEqual(v2, { cpu_seconds: 2.5, memory_bytes: 6_000, at: 1 });
    const v1 = statsFromApi(
      {
        cpu_stats: { cpu_usage: { total_usage: 1e9 } },
        memory_stats: { usage: 10_000, stats: { total_inactive_file: 1_000 } },
      },
      1,
    );
    assert.equal(v1?.memory_bytes, 9_000);
    assert.equal(statsFromApi({ cpu_stats: {} }, 1), null, 'a stopped container has no sample');
  });

  it('turns container names into host names', () => {
    assert.equal(hostnameFor('shop_web_1'), 'shop-web-1');
    assert.equal(hostnameFor('web.internal'), 'web.internal');
    assert.equal(hostnameFor('__x__'), 'x');
    assert.equal(hostnameFor('a'.repeat(80)), 'a'.repeat(63));
    assert.equal(hostnameFor('___'), null);
  });
});

const container = (over: Partial<Container> & { id: string; name: string }): Container => ({
  image: 'img:1',
  image_id: null,
  state: 'running',
  health: 'none',
  restart_count: 0,
  exit_code: 0,
  started_at: 1,
  finished_at: null,
  created_at: 1,
  compose_project: null,
  compose_service: null,
  networks: [],
  ...over,
});
const net = (network: string, ipv4: string | null, extra: Partial<Container['networks'][number]> = {}) => ({
  network,
  network_id: `id-${network}`,
  ipv4,
  ipv6: null,
  static_ipv4: null,
  static_ipv6: null,
  mac: '02:42:00:00:00:01',
  ...extra,
});
const row = (over: Partial<AddressRef> & { id: number; address: string }): AddressRef => ({
  source: 'docker',
  state: 'assigned',
  hostname: null,
  mac: null,
  description: '',
  docker: null,
  ...over,
});

describe('reconciliation plan', () => {
  const network = (name: string, cidr: string, id = `id-${name}`) => ({
    id,
    name,
    driver: 'bridge',
    scope: 'local',
    internal: false,
    subnets: [{ cidr, gateway: null, ip_range: null }],
  });

  it('creates subnets for new pools, follows recreated networks, removes ours that are gone, leaves others alone', () => {
    const plan = planSubnets(
      'lab',
      [
        network('front', '172.31.250.0/24'),
        network('back', '172.31.251.0/24', 'new-id'),
        network('lan', '192.168.1.0/24'),
        network('shared', '172.18.0.0/16'),
      ],
      [
        {
          id: 1,
          cidr: '172.31.251.0/24',
          vrf: 'docker:lab',
          docker: { endpoint: 'lab', network: 'back', network_id: 'old-id' },
        },
        {
          id: 2,
          cidr: '172.31.252.0/24',
          vrf: 'docker:lab',
          docker: { endpoint: 'lab', network: 'gone', network_id: 'g' },
        },
        { id: 3, cidr: '192.168.1.0/24', vrf: 'docker:lab', docker: null },
        {
          id: 4,
          cidr: '172.18.0.0/16',
          vrf: 'docker:lab',
          docker: { endpoint: 'nas', network: 'shared', network_id: 's' },
        },
        {
          id: 5,
          cidr: '172.31.253.0/24',
          vrf: 'docker:lab',
          docker: { endpoint: 'nas', network: 'x', network_id: 'x' },
        },
      ],
    );
    assert.deepEqual(
      plan.create.map((c) => [c.cidr, c.name]),
      [['172.31.250.0/24', 'docker:lab/front']],
    );
    assert.deepEqual(plan.relink, [{ id: 1, network: 'back', network_id: 'new-id' }]);
    assert.deepEqual(plan.remove, [{ id: 2, cidr: '172.31.252.0/24' }]);
  });

  const base = { endpoint: 'lab', owned: [] as AddressRef[], lookup: () => undefined, covered: () => true };

  it('records live addresses as assigned with host name, MAC and description', () => {
    const plan = planAddresses({
      ...base,
      containers: [container({ id: 'c1', name: 'web_1', networks: [net('front', '172.31.250.10')] })],
    });
    assert.deepEqual(plan.create, [
      {
        address: '172.31.250.10',
        link: { container_id: 'c1', network: 'front' },
        fields: {
          state: 'assigned',
          hostname: 'web-1',
          mac: '02:42:00:00:00:01',
          description: 'Docker container web_1 (img:1) on lab, network front',
        },
      },
    ]);
    assert.deepEqual([plan.update, plan.remove, plan.unlink, plan.skipped], [[], [], [], []]);
  });

  it("keeps a stopped container's fixed or last address and MAC, and releases removed containers", () => {
    const desc = (name: string) => `Docker container ${name} (img:1) on lab, network front`;
    const owned = [
      row({
        id: 1,
        address: '172.31.250.10',
        state: 'reserved',
        hostname: 'db',
        mac: '02:42:00:00:00:01',
        description: desc('db'),
        docker: { endpoint: 'lab', container_id: 'fixed', network: 'front' },
      }),
      row({
        id: 2,
        address: '172.31.250.11',
        hostname: 'job',
        mac: '02:42:00:00:00:02',
        description: desc('job'),
        docker: { endpoint: 'lab', container_id: 'dyn', network: 'front' },
      }),
      row({ id: 3, address: '172.31.250.12', docker: { endpoint: 'lab', container_id: 'removed', network: 'front' } }),
    ];
    const byAddress = new Map(owned.map((r) => [r.address, r]));
    const plan = planAddresses({
      ...base,
      owned,
      lookup: (a) => byAddress.get(a),
      containers: [
        container({
          id: 'fixed',
          name: 'db',
          state: 'exited',
          networks: [net('front', null, { static_ipv4: '172.31.250.10', mac: null })],
        }),
        container({ id: 'dyn', name: 'job', state: 'exited', networks: [net('front', null, { mac: null })] }),
      ],
    });
    // Only the row a person had set to reserved changes (back to assigned); job's row is untouched.
    assert.deepEqual(
      plan.update.map((u) => [u.id, u.fields.state, u.fields.mac]),
      [[1, 'assigned', '02:42:00:00:00:01']],
    );
    assert.deepEqual(plan.remove, [{ id: 3, address: '172.31.250.12' }]);
  });

  it("a live address beats a stopped container's last one; unchanged rows are left alone", () => {
    const desc = 'Docker container web (img:1) on lab, network front';
    const owned = [
      row({ id: 1, address: '172.31.250.20', docker: { endpoint: 'lab', container_id: 'old', network: 'front' } }),
      row({
        id: 2,
        address: '172.31.250.21',
        hostname: 'web',
        mac: '02:42:00:00:00:01',
        description: desc,
        docker: { endpoint: 'lab', container_id: 'web', network: 'front' },
      }),
    ];
    const byAddress = new Map(owned.map((r) => [r.address, r]));
    const plan = planAddresses({
      ...base,
      owned,
      lookup: (a) => byAddress.get(a),
      containers: [
        container({ id: 'old', name: 'aaa-old', state: 'exited', networks: [net('front', null)] }),
        container({ id: 'new', name: 'zzz-new', networks: [net('front', '172.31.250.20')] }),
        container({ id: 'web', name: 'web', networks: [net('front', '172.31.250.21')] }),
      ],
    });
    assert.deepEqual(
      plan.update.map((u) => [u.id, u.link.container_id, u.fields.state]),
      [[1, 'new', 'assigned']],
    );
    assert.deepEqual([plan.create, plan.remove, plan.unlink], [[], [], []]);
  });

  it('never touches rows of other sources or other endpoints; forgets rows a person took over', () => {
    const rows = new Map<string, AddressRef>([
      ['10.0.0.5', row({ id: 1, address: '10.0.0.5', source: 'manual' })],
      ['10.0.0.6', row({ id: 2, address: '10.0.0.6', docker: { endpoint: 'nas', container_id: 'n', network: 'x' } })],
      [
        '10.0.0.7',
        row({
          id: 3,
          address: '10.0.0.7',
          source: 'manual',
          docker: { endpoint: 'lab', container_id: 'c3', network: 'lan' },
        }),
      ],
      ['10.0.0.8', row({ id: 4, address: '10.0.0.8', source: 'docker' })],
    ]);
    const plan = planAddresses({
      ...base,
      owned: [rows.get('10.0.0.7')!],
      lookup: (a) => rows.get(a),
      covered: (a) => a !== '10.9.9.9',
      containers: ['10.0.0.5', '10.0.0.6', '10.0.0.7', '10.0.0.8', '10.9.9.9'].map((ip, i) =>
        container({ id: `c${i + 1}`, name: `c${i + 1}`, networks: [net('lan', ip)] }),
      ),
    });
    assert.deepEqual(
      plan.skipped.map((s) => [s.address, s.reason]),
      [
        ['10.0.0.5', 'taken'],
        ['10.0.0.6', 'taken'],
        ['10.0.0.7', 'taken'],
        ['10.9.9.9', 'no_subnet'],
      ],
    );
    assert.deepEqual(plan.unlink, [{ id: 3, address: '10.0.0.7' }]);
    assert.deepEqual(
      plan.update.map((u) => u.id),
      [4],
      'an unlinked docker row is adopted',
    );
    assert.deepEqual([plan.create, plan.remove], [[], []]);
  });

  it('reports Docker pools overlapping managed subnets with their relation', () => {
    const found = networkOverlaps(
      [
        { endpoint: 'lab', network: 'lan', cidr: '192.168.1.0/24' },
        { endpoint: 'lab', network: 'inner', cidr: '10.20.5.0/24' },
        { endpoint: 'lab', network: 'wide', cidr: '172.16.0.0/12' },
        { endpoint: 'lab', network: 'free', cidr: '172.31.250.0/24' },
      ],
      [
        { id: 1, cidr: '192.168.1.0/24' },
        { id: 2, cidr: '10.20.0.0/16' },
        { id: 3, cidr: '172.20.1.0/24' },
        { id: 4, cidr: 'fd00::/64' },
      ],
    );
    assert.deepEqual(
      found.map((o) => [o.network, o.subnet, o.relation]),
      [
        ['inner', '10.20.0.0/16', 'inside'],
        ['lan', '192.168.1.0/24', 'same'],
        ['wide', '172.20.1.0/24', 'contains'],
      ],
    );
  });
});

describe('service against a scripted engine', () => {
  it('reconnects after the event stream drops, with since = the last event, and is down meanwhile', async (t) => {
    const opened = await storeAndIpam(t);
    const { store, ipam } = opened;
    const calls: (number | undefined)[] = [];
    let emit: ((e: DockerEvent) => void) | undefined;
    let end: (() => void) | undefined;
    let reachable = true;
    const client: DockerClient = {
      version: async () => {
        if (!reachable) throw new Error('connect ENOENT');
        return { version: '28.0.0', api_version: '1.48' };
      },
      containers: async () => [],
      container: async () => null,
      networks: async () => [],
      stats: async () => null,
      imageDigests: async () => null,
      events: async (since, onEvent) => {
        calls.push(since);
        emit = onEvent;
        return {
          done: new Promise<void>((resolve) => {
            end = resolve;
          }),
        };
      },
    };
    const config = loadConfig({
      LANSCAPE_DOCKER_HOSTS: 'fake=unix:///fake.sock',
      LANSCAPE_DOCKER_STATS: 'false',
    }).docker;
    const svc = new DockerService(store, ipam, config, pino({ level: 'silent' }), { client: () => client });
    try {
      svc.start();
      await waitFor(() => svc.collectors()['docker:fake']!.up);
      emit!({ type: 'container', action: 'start', id: 'x', attributes: {}, time: 1_700_000_000 });
      reachable = false;
      end!();
      await waitFor(() => !svc.collectors()['docker:fake']!.up);
      assert.match(svc.collectors()['docker:fake']!.message!, /event stream ended|ENOENT/);
      reachable = true;
      await waitFor(() => svc.collectors()['docker:fake']!.up, 10_000);
      assert.deepEqual(calls, [undefined, 1_700_000_000]);
    } finally {
      await svc.stop();
    }
  });

  it('pause() disconnects and stops the periodic work, resume() reconnects and reconciles again; stop() is final', async (t) => {
    const opened = await storeAndIpam(t);
    const { store, ipam } = opened;
    const streams: AbortSignal[] = [];
    let listings = 0;
    const container = runningContainer('c1', 'web', {
      network: 'appnet',
      network_id: 'n1',
      ipv4: '172.30.0.5',
      mac: '02:42:ac:1e:00:05',
    });
    const client: DockerClient = {
      version: async () => ({ version: '28.0.0', api_version: '1.48' }),
      containers: async () => {
        listings++;
        return [container];
      },
      container: async () => container,
      networks: async () => [bridgeNetwork('n1', 'appnet', '172.30.0.0/24')],
      stats: async () => null,
      imageDigests: async () => null,
      events: async (_since, _onEvent, signal) => {
        streams.push(signal!);
        return { done: new Promise<void>((resolve) => signal!.addEventListener('abort', () => resolve())) };
      },
    };
    const config = loadConfig({
      LANSCAPE_DOCKER_HOSTS: 'fake=unix:///fake.sock',
      LANSCAPE_DOCKER_STATS: 'false',
    }).docker;
    const svc = new DockerService(store, ipam, config, pino({ level: 'silent' }), { client: () => client });
    try {
      assert.equal(svc.running, false);
      svc.start();
      svc.resume(); // idempotent
      await waitFor(() => svc.collectors()['docker:fake']!.up);
      assert.equal(streams.length, 1, 'one event stream');
      assert.equal(listings, 1);
      const views = await svc.containerViews('fake');
      assert.equal(views[0]!.networks[0]!.addresses[0]!.source, 'docker', 'the reconciliation recorded the address');
      const addressId = views[0]!.networks[0]!.addresses[0]!.address_id;
      assert.ok(addressId !== null);
      assert.equal((await svc.networkViews('fake'))[0]!.subnets[0]!.managed, false, 'the subnet is Docker’s');

      await svc.pause();
      await svc.pause();
      assert.equal(svc.running, false);
      assert.equal(streams[0]!.aborted, true, 'the event stream was closed');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(streams.length, 1, 'no reconnection while paused');
      assert.equal((await svc.containerViews('fake')).length, 1, 'the last snapshot stays readable');

      svc.resume();
      await waitFor(() => streams.length === 2 && listings === 2);
      assert.equal(svc.running, true);
      assert.equal(streams[1]!.aborted, false);
      const again = await svc.containerViews('fake');
      assert.equal(again[0]!.networks[0]!.addresses[0]!.address_id, addressId, 'the same IPAM row, nothing duplicated');
    } finally {
      await svc.stop();
    }
    svc.resume();
    assert.equal(svc.running, false, 'nothing runs after stop()');
    assert.equal(streams.at(-1)!.aborted, true);
  });
});

/** The store under test (TEST_BACKEND) with an IpamService on it. */
async function storeAndIpam(t: TestContext): Promise<{ store: Store; ipam: IpamService }> {
  const store = await openTestStore(t);
  return { store, ipam: new IpamService(store) };
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
