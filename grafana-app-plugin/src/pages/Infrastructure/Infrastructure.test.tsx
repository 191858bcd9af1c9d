import React from 'react';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { testIds } from '../../components/testIds';
import { type Answer, calls, fail, requestTo, routes } from '../../test/backend';
import '../../test/dom';
import { subnet } from '../../test/fixtures';
import {
  PROXMOX_NOT_CONFIGURED,
  dockerContainer,
  dockerEndpoint,
  dockerNetwork,
  pveGuest,
  pveNode,
} from '../../test/fixtures-infra';
import { renderAt } from '../../test/render';
import { setRole } from '../../test/ui';
import type { Agent } from '../../api/types';
import Infrastructure from './Infrastructure';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const SUBNETS = [
  subnet({ id: 1, cidr: '10.20.0.0/16', prefix_length: 16, name: 'site' }),
  subnet({ id: 2, cidr: '10.20.0.0/24', prefix_length: 24, name: 'servers' }),
  subnet({ id: 9, cidr: '172.18.0.0/16', prefix_length: 16, name: 'docker apps' }),
];

const DOCKER: Record<string, Answer> = {
  'GET read/docker/endpoints': {
    count: 2,
    results: [
      dockerEndpoint('local', { images_checked_at: '2026-11-22T06:00:00.000Z' }),
      dockerEndpoint('nas', {
        url: 'http://nas:2375',
        up: false,
        version: null,
        api_version: null,
        last_error: 'connect ECONNREFUSED 192.168.1.20:2375',
        containers: 1,
        running: 0,
      }),
    ],
  },
  'GET read/docker/containers': {
    count: 4,
    results: [
      dockerContainer('web', {
        health: 'healthy',
        restart_count: 3,
        compose_project: 'shop',
        compose_service: 'web',
        image_update: {
          status: 'update_available',
          checked_at: '2026-11-22T06:00:00.000Z',
          registry_digest: `sha256:${'b'.repeat(64)}`,
          error: null,
        },
        networks: [
          {
            network: 'apps',
            mac: '02:42:ac:12:00:05',
            addresses: [{ address: '172.18.0.5', live: true, address_id: 55, source: 'docker' }],
          },
        ],
      }),
      dockerContainer('backup', {
        endpoint: 'nas',
        state: 'exited',
        exit_code: 137,
        health: 'unhealthy',
        image: 'restic/restic:0.17',
      }),
      dockerContainer('tool', {
        image: 'tool:dev',
        image_update: { status: 'local', checked_at: '2026-11-22T06:00:00.000Z', registry_digest: null, error: null },
      }),
      dockerContainer('db', {
        image: 'postgres:16',
        image_update: {
          status: 'up_to_date',
          checked_at: '2026-11-22T06:00:00.000Z',
          registry_digest: null,
          error: null,
        },
      }),
    ],
  },
  'GET read/docker/networks': {
    count: 2,
    results: [
      dockerNetwork('apps', {
        subnets: [{ cidr: '172.18.0.0/16', gateway: '172.18.0.1', ip_range: null, subnet_id: 9, managed: false }],
      }),
      dockerNetwork('clash', {
        containers: 0,
        subnets: [{ cidr: '10.20.0.0/24', gateway: '10.20.0.1', ip_range: null, subnet_id: 2, managed: true }],
      }),
    ],
  },
  'GET read/docker/conflicts': {
    count: 1,
    results: [
      {
        kind: 'network_overlap',
        endpoint: 'local',
        network: 'clash',
        cidr: '10.20.0.0/24',
        subnet_id: 2,
        subnet: '10.20.0.0/24',
        relation: 'same',
        message: 'Docker network clash on local uses 10.20.0.0/24, the managed subnet 10.20.0.0/24',
      },
    ],
  },
};

const PROXMOX: Record<string, Answer> = {
  'GET read/proxmox/nodes': {
    updated_at: new Date().toISOString(),
    results: [pveNode('pve1'), pveNode('pve2', { online: false, cpu_usage_ratio: null, memory_used_bytes: null })],
  },
  'GET read/proxmox/guests': {
    updated_at: new Date().toISOString(),
    count: 3,
    results: [
      pveGuest(101, {
        name: 'web',
        tags: ['prod', 'web'],
        addresses: [
          { address: '10.20.0.11', prefix_length: 24, interface: 'eth0', mac: null, address_id: 31, source: 'proxmox' },
          { address: '192.168.99.5', prefix_length: 24, interface: 'eth0', mac: null, address_id: null, source: null },
        ],
      }),
      pveGuest(102, { name: 'db', status: 'stopped', addresses: null }),
      pveGuest(9000, { name: 'debian-12', template: true, status: 'stopped' }),
      pveGuest(201, { name: 'dns', type: 'lxc', node: 'pve2', addresses: [] }),
    ],
  },
};

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

function agent(id: number, name: string, fields: Partial<Agent> = {}): Agent {
  return {
    id,
    name,
    created_at: '2026-11-20T08:00:00.000Z',
    revoked_at: null,
    last_report_at: minutesAgo(2),
    last_seen_at: minutesAgo(1),
    status: 'up',
    report_interval_seconds: 60,
    queue_depth: 0,
    dropped_results_total: 0,
    version: '0.1.0',
    metrics_url: null,
    subnets: [],
    ...fields,
  };
}

const AGENTS: Record<string, Answer> = {
  'GET read/agents': {
    count: 4,
    results: [
      agent(1, 'branch', { subnets: [{ id: 2, cidr: '10.20.0.0/24' }] }),
      agent(2, 'lab', {
        report_interval_seconds: 300,
        status: 'down',
        last_report_at: minutesAgo(90),
        queue_depth: 37,
        dropped_results_total: 12,
        subnets: [
          { id: 1, cidr: '10.20.0.0/16' },
          { id: 9, cidr: '172.18.0.0/16' },
        ],
      }),
      agent(3, 'new-site', {
        status: 'never',
        last_report_at: null,
        last_seen_at: null,
        version: null,
      }),
      agent(4, 'old', { status: 'revoked', revoked_at: minutesAgo(600) }),
    ],
  },
};

function backend(extra: Record<string, Answer> = {}) {
  mockFetch.mockImplementation(
    routes({ 'GET read/subnets': { count: 3, results: SUBNETS }, ...DOCKER, ...PROXMOX, ...AGENTS, ...extra })
  );
}

describe('Infrastructure page', () => {
  beforeEach(() => {
    mockFetch.mockReset();
    setRole('Viewer');
  });
  afterAll(() => setRole(undefined));

  it('shows Docker endpoints, containers and networks with addresses linked into IPAM and overlaps highlighted', async () => {
    backend();
    renderAt(<Infrastructure refreshMs={0} />, '/infrastructure');
    const local = await screen.findByTestId(testIds.infra.endpointRow('local'));
    expect(within(local).getByTestId(testIds.infra.pill)).toHaveAttribute('data-state', 'up');
    expect(local).toHaveTextContent('Docker 27.5.1');
    expect(local).toHaveTextContent('images checked');
    const nas = screen.getByTestId(testIds.infra.endpointRow('nas'));
    expect(within(nas).getByTestId(testIds.infra.pill)).toHaveAttribute('data-state', 'down');
    expect(nas).toHaveTextContent('connect ECONNREFUSED 192.168.1.20:2375');
    expect(within(nas).getByTestId(testIds.infra.dashboard('docker-nas'))).toHaveAttribute(
      'href',
      '/d/lanscape-docker?var-endpoint=nas'
    );

    const web = await screen.findByTestId(testIds.infra.containerRow('local', 'web'));
    expect(web).toHaveTextContent('compose shop / web');
    expect(web).toHaveTextContent('nginx:1.27');
    const pills = within(web).getAllByTestId(testIds.infra.pill);
    expect(pills.map((p) => p.getAttribute('data-state'))).toEqual(['running', 'healthy']);
    expect(web).toHaveTextContent('64 MiB');
    // Image update checks: only "update available" and "not checkable" show; up to date is quiet.
    expect(within(web).getByTestId(testIds.infra.imageUpdate('local', 'web'))).toHaveTextContent('update available');
    expect(screen.getByTestId(testIds.infra.imageUpdate('local', 'tool'))).toHaveTextContent(
      'not checkable (local build)'
    );
    expect(screen.queryByTestId(testIds.infra.imageUpdate('local', 'db'))).toBeNull();
    expect(screen.queryByTestId(testIds.infra.imageUpdate('nas', 'backup'))).toBeNull();
    expect(screen.getByTestId(testIds.infra.imageUpdatesSummary)).toHaveTextContent(
      '1 running container has an image update available'
    );
    // The address opens its drawer on the page of the most specific subnet that holds it.
    expect(within(web).getByTestId(testIds.infra.addressLink('172.18.0.5'))).toHaveAttribute(
      'href',
      '/a/lanscape-ipam-app/subnets/9?address=55'
    );
    const backup = screen.getByTestId(testIds.infra.containerRow('nas', 'backup'));
    expect(
      within(backup)
        .getAllByTestId(testIds.infra.pill)
        .map((p) => p.textContent)
    ).toEqual(['exited (137)', 'unhealthy']);

    const apps = await screen.findByTestId(testIds.infra.networkRow('local', 'apps'));
    expect(apps).toHaveTextContent('bridge');
    expect(apps).toHaveTextContent('172.18.0.0/16 gw 172.18.0.1');
    expect(within(apps).getByRole('link', { name: '172.18.0.0/16' })).toHaveAttribute(
      'href',
      '/a/lanscape-ipam-app/subnets/9'
    );
    expect(apps).not.toHaveAttribute('data-conflict');
    const clash = screen.getByTestId(testIds.infra.networkRow('local', 'clash'));
    expect(clash).toHaveAttribute('data-conflict', 'true');
    expect(clash).toHaveTextContent('overlaps 10.20.0.0/24');
    const conflicts = await screen.findByTestId(testIds.infra.conflict);
    expect(conflicts).toHaveTextContent('1 Docker network overlaps managed subnets');
    expect(conflicts).toHaveTextContent('Docker network clash on local uses 10.20.0.0/24');
    expect(screen.getByTestId(testIds.infra.dashboard('docker'))).toHaveAttribute('href', '/d/lanscape-docker');
  });

  it('shows Proxmox nodes and guests with tags and addresses linked into IPAM', async () => {
    backend();
    renderAt(<Infrastructure refreshMs={0} />, '/infrastructure');
    const pve1 = await screen.findByTestId(testIds.infra.nodeRow('pve1'));
    expect(within(pve1).getByTestId(testIds.infra.pill)).toHaveAttribute('data-state', 'up');
    expect(within(pve1).getByRole('meter', { name: 'CPU of pve1' })).toHaveAttribute(
      'aria-valuetext',
      '12 % of 8 CPUs'
    );
    expect(within(pve1).getByRole('meter', { name: 'Memory of pve1' })).toHaveAttribute(
      'aria-valuetext',
      '6 GiB of 32 GiB'
    );
    expect(pve1).toHaveTextContent('1d');
    expect(within(pve1).getByTestId(testIds.infra.dashboard('proxmox-pve1'))).toHaveAttribute(
      'href',
      '/d/lanscape-proxmox?var-node=pve1'
    );
    const pve2 = screen.getByTestId(testIds.infra.nodeRow('pve2'));
    expect(pve2).toHaveTextContent('offline');
    expect(within(pve2).queryByRole('meter')).not.toBeInTheDocument();

    const web = await screen.findByTestId(testIds.infra.guestRow(101));
    expect(web).toHaveTextContent('web');
    expect(web).toHaveTextContent('VM');
    const states = within(web)
      .getAllByTestId(testIds.infra.pill)
      .map((p) => p.getAttribute('data-state'));
    expect(states).toEqual(['running', 'prod', 'web']);
    // Recorded in IPAM: the drawer in the /24 (not the /16 that also holds it); not recorded: the subnet
    // filtered to it; in no subnet: plain text.
    expect(within(web).getByTestId(testIds.infra.addressLink('10.20.0.11'))).toHaveAttribute(
      'href',
      '/a/lanscape-ipam-app/subnets/2?address=31'
    );
    const outside = within(web).getByTestId(testIds.infra.addressLink('192.168.99.5'));
    expect(outside.tagName).toBe('SPAN');
    expect(screen.getByTestId(testIds.infra.guestRow(102))).toHaveTextContent('unknown');
    expect(screen.getByTestId(testIds.infra.guestRow(9000))).toHaveTextContent('template');
    expect(screen.getByTestId(testIds.infra.guestRow(201))).toHaveTextContent('container');
    expect(screen.getByTestId(testIds.infra.dashboard('proxmox'))).toHaveAttribute('href', '/d/lanscape-proxmox');
    // Viewers are not offered VM creation.
    expect(screen.queryByTestId(testIds.infra.createVm)).not.toBeInTheDocument();
  });

  it('links an address IPAM does not hold yet to its subnet, filtered to it', async () => {
    backend({
      'GET read/proxmox/guests': {
        updated_at: new Date().toISOString(),
        count: 1,
        results: [
          pveGuest(105, {
            addresses: [
              {
                address: '10.20.0.77',
                prefix_length: 24,
                interface: 'eth0',
                mac: null,
                address_id: null,
                source: null,
              },
            ],
          }),
        ],
      },
    });
    renderAt(<Infrastructure refreshMs={0} />, '/infrastructure');
    const row = await screen.findByTestId(testIds.infra.guestRow(105));
    expect(within(row).getByTestId(testIds.infra.addressLink('10.20.0.77'))).toHaveAttribute(
      'href',
      '/a/lanscape-ipam-app/subnets/2?q=10.20.0.77'
    );
  });

  it('shows how to configure what the exporter has not (503, no Docker endpoints) instead of errors', async () => {
    setRole('Admin');
    backend({
      'GET read/proxmox/nodes': PROXMOX_NOT_CONFIGURED,
      'GET read/proxmox/guests': PROXMOX_NOT_CONFIGURED,
      'GET read/docker/endpoints': { count: 0, results: [] },
    });
    renderAt(<Infrastructure refreshMs={0} />, '/infrastructure');
    const proxmox = await screen.findByTestId(testIds.infra.notConfigured('proxmox'));
    expect(proxmox).toHaveTextContent('Proxmox VE is not configured');
    expect(proxmox).toHaveTextContent('LANSCAPE_PROXMOX_URL=https://pve.lan:8006');
    expect(proxmox).toHaveTextContent('LANSCAPE_PROXMOX_FINGERPRINT');
    const docker = await screen.findByTestId(testIds.infra.notConfigured('docker'));
    expect(docker).toHaveTextContent('LANSCAPE_DOCKER_HOSTS');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.queryByTestId(testIds.infra.createVm)).not.toBeInTheDocument();
    expect(screen.queryByTestId(testIds.infra.dashboard('proxmox'))).not.toBeInTheDocument();
    // Nothing more is asked of an integration that is off.
    expect(calls(mockFetch).filter((c) => /docker\/(containers|networks|conflicts)/.test(c))).toEqual([]);
  });

  it('treats a Docker 503 "not configured" the same way, and other failures as errors with the message', async () => {
    setRole('Admin');
    backend({
      'GET read/docker/endpoints': fail(
        503,
        'Docker is not configured: set LANSCAPE_DOCKER_HOSTS',
        'docker_not_configured'
      ),
      'GET read/proxmox/nodes': fail(
        503,
        'Proxmox inventory failed: connect ECONNREFUSED 10.0.0.2:8006',
        'unavailable'
      ),
    });
    renderAt(<Infrastructure refreshMs={0} />, '/infrastructure');
    expect(await screen.findByTestId(testIds.infra.notConfigured('docker'))).toBeInTheDocument();
    expect(await screen.findByText('Cannot load the Proxmox nodes')).toBeInTheDocument();
    expect(screen.getByText(/Proxmox inventory failed: connect ECONNREFUSED 10\.0\.0\.2:8006/)).toBeInTheDocument();
    // Admins get the way to create a VM once Proxmox answers; the guests still load.
    expect(await screen.findByTestId(testIds.infra.guestRow(101))).toBeInTheDocument();
    expect(screen.getByTestId(testIds.infra.createVm)).toHaveAttribute('href', '/a/lanscape-ipam-app/vms/new');
  });

  describe('sites and agents', () => {
    it('shows each agent with its status, last report, subnets and queue; Viewers get no actions', async () => {
      backend();
      renderAt(<Infrastructure refreshMs={0} />, '/infrastructure');
      const section = await screen.findByTestId(testIds.infra.agents);
      const branch = await within(section).findByTestId(testIds.infra.agentRow('branch'));
      expect(within(branch).getByTestId(testIds.infra.pill)).toHaveAttribute('data-state', 'up');
      expect(branch).toHaveTextContent('2m ago');
      expect(within(branch).getByRole('link', { name: '10.20.0.0/24' })).toHaveAttribute(
        'href',
        '/a/lanscape-ipam-app/subnets/2'
      );
      const lab = screen.getByTestId(testIds.infra.agentRow('lab'));
      expect(
        within(lab)
          .getAllByTestId(testIds.infra.pill)
          .map((p) => p.getAttribute('data-state'))
      ).toEqual(['down', 'dropped']);
      expect(lab).toHaveTextContent('37');
      expect(branch).toHaveTextContent('every 1m');
      expect(lab).toHaveTextContent('every 5m'); // central's interval for this agent (#15)
      expect(lab).toHaveTextContent('12 dropped');
      expect(
        within(lab)
          .getAllByRole('link')
          .map((l) => l.textContent)
      ).toEqual(['10.20.0.0/16', '172.18.0.0/16']);
      const fresh = screen.getByTestId(testIds.infra.agentRow('new-site'));
      expect(within(fresh).getByTestId(testIds.infra.pill)).toHaveTextContent('no report yet');
      expect(fresh).toHaveTextContent('never');
      expect(fresh).toHaveTextContent('none assigned');
      expect(within(screen.getByTestId(testIds.infra.agentRow('old'))).getByTestId(testIds.infra.pill)).toHaveAttribute(
        'data-state',
        'revoked'
      );
      // One agent down: said in the section's header.
      expect(within(section).getAllByTestId(testIds.infra.pill)[0]).toHaveTextContent('1 down');
      expect(within(section).queryByTestId(testIds.infra.registerAgent)).toBeNull();
      expect(within(section).queryByRole('button', { name: /Revoke/ })).toBeNull();
    });

    it('says what an agent is when there is none', async () => {
      backend({ 'GET read/agents': { count: 0, results: [] } });
      renderAt(<Infrastructure refreshMs={0} />, '/infrastructure');
      const section = await screen.findByTestId(testIds.infra.agents);
      expect(await within(section).findByText(/No agents\./)).toHaveTextContent('npm run agent');
    });

    it('registers an agent for an Admin and shows its token once, with the environment to start it', async () => {
      setRole('Admin');
      let listed = 0;
      backend({
        'GET read/agents': () => {
          listed++;
          return { count: 0, results: [] };
        },
        'POST admin/agents': (req: { data: { name: string } }) => ({
          id: 5,
          name: req.data.name,
          token: 'lsa_' + 'x'.repeat(40),
        }),
      });
      renderAt(<Infrastructure refreshMs={0} />, '/infrastructure');
      fireEvent.click(await screen.findByTestId(testIds.infra.registerAgent));
      const form = await screen.findByTestId(testIds.infra.registerAgentForm);
      // Nothing is sent without a name.
      fireEvent.click(within(form).getByRole('button', { name: 'Register' }));
      expect(await within(form).findByText('A name is required')).toBeInTheDocument();
      expect(requestTo(mockFetch, 'POST', 'admin/agents')).toBeUndefined();

      fireEvent.change(within(form).getByTestId(testIds.infra.agentName), { target: { value: '  branch-2 ' } });
      fireEvent.click(within(form).getByRole('button', { name: 'Register' }));
      const token = await screen.findByTestId(testIds.infra.agentToken);
      expect(token).toHaveValue('lsa_' + 'x'.repeat(40));
      expect(requestTo(mockFetch, 'POST', 'admin/agents')?.data).toEqual({ name: 'branch-2' });
      expect(screen.getByText('Copy the token now')).toBeInTheDocument();
      expect(screen.getByText(/LANSCAPE_AGENT_TOKEN=lsa_x+/)).toHaveTextContent('LANSCAPE_AGENT_CENTRAL_URL=');
      const before = listed;
      fireEvent.click(screen.getByRole('button', { name: 'Done' }));
      await waitFor(() => expect(listed).toBe(before + 1));
      expect(screen.queryByTestId(testIds.infra.agentToken)).toBeNull();
    });

    it('explains a refused registration and keeps the form', async () => {
      setRole('Admin');
      backend({ 'POST admin/agents': fail(409, 'an agent named branch exists', 'conflict') });
      renderAt(<Infrastructure refreshMs={0} />, '/infrastructure');
      fireEvent.click(await screen.findByTestId(testIds.infra.registerAgent));
      const form = await screen.findByTestId(testIds.infra.registerAgentForm);
      fireEvent.change(within(form).getByTestId(testIds.infra.agentName), { target: { value: 'branch' } });
      fireEvent.click(within(form).getByRole('button', { name: 'Register' }));
      expect(await within(form).findByText('The agent was not registered')).toBeInTheDocument();
      expect(form).toHaveTextContent('an agent named branch exists');
      expect(within(form).getByTestId(testIds.infra.agentName)).toHaveValue('branch');
    });

    it('revokes an agent after confirmation, through the admin route', async () => {
      setRole('Admin');
      let revoked = false;
      backend({
        'DELETE admin/agents/2': () => {
          revoked = true;
          return null;
        },
      });
      renderAt(<Infrastructure refreshMs={0} />, '/infrastructure');
      const lab = await screen.findByTestId(testIds.infra.agentRow('lab'));
      // Revoked agents have nothing left to revoke.
      expect(within(screen.getByTestId(testIds.infra.agentRow('old'))).queryByRole('button')).toBeNull();
      fireEvent.click(within(lab).getByRole('button', { name: 'Revoke lab' }));
      expect(await screen.findByText(/Its token stops working at once/)).toHaveTextContent('its 2 subnet(s)');
      expect(revoked).toBe(false);
      fireEvent.click(screen.getByRole('button', { name: 'Revoke' }));
      await waitFor(() => expect(revoked).toBe(true));
      await waitFor(() => expect(screen.queryByText(/Its token stops working at once/)).toBeNull());
      expect(calls(mockFetch).filter((c) => c === 'GET /api/plugin-proxy/lanscape-ipam-app/read/agents')).toHaveLength(
        2
      );
    });
  });
});
