import React from 'react';
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { type BackendSrvRequest } from '@grafana/runtime';
import { PROXY_BASE } from '../../api/client';
import type { VmJob } from '../../api/types';
import { testIds } from '../../components/testIds';
import { type Answer, calls, fail, routes } from '../../test/backend';
import '../../test/dom';
import { subnet } from '../../test/fixtures';
import {
  KEY,
  PROXMOX_NOT_CONFIGURED,
  UPID,
  cloneSteps,
  pveBridge,
  pveNode,
  pveStorage,
  pveTemplate,
  vmJob,
} from '../../test/fixtures-infra';
import { renderAt } from '../../test/render';
import { pick, setRole } from '../../test/ui';
import CreateVm from './CreateVm';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const SUBNET = subnet({ id: 3, cidr: '10.20.0.0/24', name: 'servers', gateway: '10.20.0.1', vlan: 20 });

function backend(extra: Record<string, Answer> = {}) {
  mockFetch.mockImplementation(
    routes({
      'GET read/proxmox/nodes': {
        updated_at: '2026-11-22T10:00:00.000Z',
        results: [pveNode('pve1'), pveNode('pve2', { online: false })],
      },
      'GET read/proxmox/templates': { count: 1, results: [pveTemplate(9000)] },
      'GET read/proxmox/storages': { count: 1, results: [pveStorage('local-lvm')] },
      'GET read/proxmox/bridges': {
        count: 2,
        results: [pveBridge('vmbr0'), pveBridge('vmbr1', { vlan_aware: false, cidr: null })],
      },
      'GET read/subnets': { count: 1, results: [SUBNET] },
      'GET read/subnets/3/available-ips': { count: 1, results: [{ address: '10.20.0.2', family: 4 }] },
      ...extra,
    })
  );
}

const field = (name: string) => screen.getByTestId(testIds.vm.field(name));
const next = () => fireEvent.click(screen.getByTestId(testIds.vm.next));
const heading = async (title: string) => screen.findByRole('heading', { name: title });
const vmPosts = () => mockFetch.mock.calls.map(([r]) => r as BackendSrvRequest).filter((r) => r.method === 'POST');
const keyOf = (r: BackendSrvRequest) => (r.headers as Record<string, string>)['Idempotency-Key'];

/** Walks the wizard: web-1 on pve1, a full clone of 9000, vmbr0 in 10.20.0.0/24 (next free), cloud-init. */
async function fillWizard() {
  renderAt(<CreateVm pollMs={5} />, '/vms/new');
  await screen.findByTestId(testIds.vm.node('pve1'));
  fireEvent.change(field('name'), { target: { value: 'web-1' } });
  fireEvent.click(within(screen.getByTestId(testIds.vm.node('pve1'))).getByRole('button', { name: 'pve1' }));
  next();

  await heading('Template or resources');
  await waitFor(() => expect(field('template')).not.toHaveAttribute('placeholder', 'Loading templates…'));
  pick(testIds.vm.field('template'), 'debian');
  pick(testIds.vm.field('clone-storage'), 'local-lvm');
  next();

  await heading('Network');
  await waitFor(() => expect(field('bridge')).toHaveAttribute('placeholder', 'Choose a bridge'));
  pick(testIds.vm.field('bridge'), 'vmbr0');
  await waitFor(() => expect(field('subnet')).toHaveAttribute('placeholder', 'Choose a subnet'));
  pick(testIds.vm.field('subnet'), '10.20.0.0');
  // The next free address is previewed; the gateway and the VLAN follow the subnet.
  expect(await screen.findByText('10.20.0.2')).toBeInTheDocument();
  expect(field('gateway')).toHaveValue('10.20.0.1');
  expect(field('vlan')).toHaveValue('20');
  fireEvent.change(field('dns'), { target: { value: '10.20.0.53, 10.20.0.54' } });
  next();

  await heading('Cloud-init');
  fireEvent.change(field('user'), { target: { value: 'ops' } });
  fireEvent.change(field('ssh-keys'), { target: { value: KEY } });
  next();
  await screen.findByTestId(testIds.vm.review);
}

const EXPECTED_BODY = {
  node: 'pve1',
  name: 'web-1',
  clone: { template_vmid: 9000, full: true, storage: 'local-lvm' },
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
};

describe('Create VM page', () => {
  beforeEach(() => {
    mockFetch.mockReset();
    setRole('Admin');
  });
  afterAll(() => setRole(undefined));

  it('walks node → template → network → cloud-init → review, creates, follows the job to done and links the address', async () => {
    let polls = 0;
    const done = vmJob({
      state: 'done',
      progress: 1,
      vmid: 100,
      steps: cloneSteps(6).map((s) => ({ ...s, upid: s.name === 'clone' ? UPID : undefined })),
      finished_at: '2026-11-22T10:00:05.000Z',
    });
    backend({
      'POST admin/vms': vmJob({
        state: 'queued',
        progress: 0,
        steps: cloneSteps(1).map((s, i) => (i === 1 ? { ...s, state: 'pending' } : s)),
      }),
      'GET read/vms/jobs/4': () => {
        polls++;
        return polls < 3 ? vmJob({ progress: 0.417, vmid: 100, steps: cloneSteps(2) }) : done;
      },
    });
    await fillWizard();

    // The review: in words, and as a curl with the JSON body and the Idempotency-Key (no token).
    const review = screen.getByTestId(testIds.vm.review);
    expect(review).toHaveTextContent('Full clone of debian-12 (9000) onto local-lvm');
    expect(review).toHaveTextContent('the next free address of 10.20.0.0/24 (now 10.20.0.2)');
    expect(review).toHaveTextContent('vmbr0, VLAN 20');
    const curl = screen.getByTestId(testIds.vm.curl).textContent!;
    expect(curl).toContain('curl -X POST "$LANSCAPE_URL/api/v1/vms"');
    expect(curl).toContain('Authorization: Bearer $LANSCAPE_ADMIN_TOKEN');
    const shownKey = /Idempotency-Key: ([0-9a-f-]{36})/.exec(curl)?.[1];
    expect(shownKey).toBeDefined();
    expect(JSON.parse(curl.slice(curl.indexOf("--data '") + 8, -1))).toEqual(EXPECTED_BODY);
    expect(vmPosts()).toEqual([]);

    fireEvent.click(screen.getByTestId(testIds.vm.create));
    // Live: the running step with its Proxmox task, the progress bar.
    const job = await screen.findByTestId(testIds.vm.job);
    expect(await screen.findByTestId(testIds.vm.upid)).toHaveTextContent(UPID);
    expect(screen.getByTestId(testIds.vm.jobStep('clone'))).toHaveAttribute('data-state', 'running');
    expect(screen.getByTestId(testIds.vm.jobStep('reserve_address'))).toHaveAttribute('data-state', 'done');
    expect(screen.getByTestId(testIds.vm.progress)).toHaveAttribute('aria-valuenow', '42');

    const success = await screen.findByTestId(testIds.vm.success);
    expect(job).toHaveAttribute('data-state', 'done');
    expect(success).toHaveTextContent('Proxmox VM 100 on pve1 has the address 10.20.0.2');
    expect(within(success).getByTestId(testIds.vm.addressLink)).toHaveAttribute(
      'href',
      '/a/lanscape-ipam-app/subnets/3?address=77'
    );
    expect(screen.getByTestId(testIds.vm.jobStep('assign_address'))).toHaveAttribute('data-state', 'done');

    // One POST to the admin route, with the key the review showed; polling stopped at done.
    expect(vmPosts()).toHaveLength(1);
    expect(vmPosts()[0]).toMatchObject({ url: `${PROXY_BASE}/admin/vms`, data: EXPECTED_BODY });
    expect(keyOf(vmPosts()[0]!)).toBe(shownKey);
    const count = polls;
    await act(() => new Promise((r) => setTimeout(r, 50)));
    expect(polls).toBe(count);
    expect(calls(mockFetch).filter((c) => c.startsWith('GET ') && !c.includes('/read/'))).toEqual([]);
  });

  it('blocks bad input on the client: no request is sent', async () => {
    backend();
    renderAt(<CreateVm pollMs={5} />, '/vms/new');
    await screen.findByTestId(testIds.vm.node('pve1'));
    fireEvent.change(field('name'), { target: { value: 'Web_1' } });
    next();
    expect(
      await screen.findByText(
        'A DNS label: lower-case letters, digits and -, 1–63 characters, not starting or ending with -'
      )
    ).toBeInTheDocument();
    expect(screen.getByText('Choose the node to create the VM on')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.vm.stepTab('node'))).toHaveAttribute('data-state', 'current');
    // An offline node cannot be chosen.
    expect(within(screen.getByTestId(testIds.vm.node('pve2'))).queryByRole('button')).not.toBeInTheDocument();

    fireEvent.change(field('name'), { target: { value: 'web-1' } });
    fireEvent.click(within(screen.getByTestId(testIds.vm.node('pve1'))).getByRole('button', { name: 'pve1' }));
    next();
    await heading('Template or resources');
    // An empty VM: resources out of range.
    fireEvent.click(within(field('source')).getByLabelText('Empty VM'));
    fireEvent.change(await screen.findByTestId(testIds.vm.field('cores')), { target: { value: '129' } });
    fireEvent.change(field('memory'), { target: { value: '100' } });
    next();
    expect(await screen.findByText('A whole number from 1 to 128')).toBeInTheDocument();
    expect(screen.getByText('MiB, a whole number from 256 to 1,048,576')).toBeInTheDocument();
    expect(screen.getByText('Choose the storage for the disk and the cloud-init drive')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.vm.stepTab('source'))).toHaveAttribute('data-state', 'current');
    fireEvent.change(field('cores'), { target: { value: '4' } });
    fireEvent.change(field('memory'), { target: { value: '4096' } });
    await waitFor(() => expect(field('storage')).toHaveAttribute('placeholder', 'Choose a storage'));
    pick(testIds.vm.field('storage'), 'local-lvm');
    next();

    await heading('Network');
    await waitFor(() => expect(field('bridge')).toHaveAttribute('placeholder', 'Choose a bridge'));
    pick(testIds.vm.field('bridge'), 'vmbr1');
    await waitFor(() => expect(field('subnet')).toHaveAttribute('placeholder', 'Choose a subnet'));
    pick(testIds.vm.field('subnet'), '10.20.0.0');
    fireEvent.click(within(field('address-mode')).getByLabelText('Specific address'));
    fireEvent.change(await screen.findByTestId(testIds.vm.field('address')), { target: { value: '10.30.0.9' } });
    fireEvent.change(field('gateway'), { target: { value: '10.99.0.1' } });
    fireEvent.change(field('vlan'), { target: { value: '5000' } });
    next();
    expect(await screen.findByText('10.30.0.9 is outside 10.20.0.0/24')).toBeInTheDocument();
    expect(screen.getByText('The gateway must be inside 10.20.0.0/24')).toBeInTheDocument();
    expect(screen.getByText('A VLAN tag from 1 to 4094, or empty for none')).toBeInTheDocument();
    fireEvent.change(field('address'), { target: { value: '10.20.0.40' } });
    fireEvent.change(field('gateway'), { target: { value: '10.20.0.1' } });
    fireEvent.change(field('vlan'), { target: { value: '' } });
    next();

    await heading('Cloud-init');
    fireEvent.change(field('ssh-keys'), { target: { value: `${KEY}\nnot a key` } });
    next();
    expect(await screen.findByText(/^Line 2 is not an OpenSSH public key/)).toBeInTheDocument();
    // Jumping ahead with the indicator stops at the step with the error, too.
    expect(screen.getByTestId(testIds.vm.stepTab('review'))).toBeDisabled();
    fireEvent.change(field('ssh-keys'), { target: { value: KEY } });
    next();
    const review = await screen.findByTestId(testIds.vm.review);
    expect(review).toHaveTextContent('Empty VM: 4 cores, 4096 MiB memory, 20 GiB disk on local-lvm');
    expect(review).toHaveTextContent('10.20.0.40');
    expect(review).toHaveTextContent('vmbr1, untagged');
    // Going back to an earlier step and breaking it: Create sends it back there, still nothing sent.
    fireEvent.click(screen.getByTestId(testIds.vm.stepTab('node')));
    await heading('Node');
    fireEvent.change(field('name'), { target: { value: 'web-' } });
    fireEvent.click(screen.getByTestId(testIds.vm.stepTab('review')));
    await heading('Node');
    expect(await screen.findByText(/^A DNS label/)).toBeInTheDocument();
    expect(screen.getByTestId(testIds.vm.stepTab('node'))).toHaveAttribute('data-state', 'current');
    expect(vmPosts()).toEqual([]);
  });

  it('shows why a job failed and that the address was released', async () => {
    const failed = vmJob({
      state: 'failed',
      progress: 0.333,
      steps: [
        ...cloneSteps(2).slice(0, 2),
        { name: 'clone', state: 'failed', started_at: null, finished_at: null, message: 'no space' },
        { name: 'configure', state: 'skipped', started_at: null, finished_at: null },
        { name: 'start', state: 'skipped', started_at: null, finished_at: null },
        { name: 'assign_address', state: 'skipped', started_at: null, finished_at: null },
        {
          name: 'cleanup',
          state: 'done',
          started_at: null,
          finished_at: null,
          message: 'address 10.20.0.2 was released',
        },
      ],
      error:
        "cloning the template failed: Proxmox failed POST /nodes/pve1/qemu/9000/clone (HTTP 500: storage 'local-lvm' does not have enough free space). Address 10.20.0.2 was released.",
    });
    let posted: VmJob = vmJob({ state: 'queued', progress: 0 });
    backend({
      'POST admin/vms': () => posted,
      'GET read/vms/jobs/4': failed,
    });
    await fillWizard();
    fireEvent.click(screen.getByTestId(testIds.vm.create));
    const failure = await screen.findByTestId(testIds.vm.failure);
    expect(failure).toHaveTextContent("storage 'local-lvm' does not have enough free space");
    expect(failure).toHaveTextContent('The address 10.20.0.2 was released: it is free again in IPAM.');
    expect(screen.getByTestId(testIds.vm.jobStep('clone'))).toHaveAttribute('data-state', 'failed');
    expect(screen.getByTestId(testIds.vm.jobStep('start'))).toHaveAttribute('data-state', 'skipped');
    expect(screen.queryByTestId(testIds.vm.success)).not.toBeInTheDocument();

    // Trying again is a new submission: a new key (the old one would only bring the failed job back).
    const firstKey = keyOf(vmPosts()[0]!);
    posted = vmJob({ id: 5, state: 'queued', progress: 0 });
    fireEvent.click(screen.getByTestId(testIds.vm.again));
    await screen.findByTestId(testIds.vm.review);
    await waitFor(() => expect(screen.getByTestId(testIds.vm.curl).textContent).not.toContain(firstKey));
    fireEvent.click(screen.getByTestId(testIds.vm.create));
    await waitFor(() => expect(vmPosts()).toHaveLength(2));
    expect(keyOf(vmPosts()[1]!)).not.toBe(firstKey);
    expect(vmPosts()[1]!.data).toEqual(vmPosts()[0]!.data);
  });

  it('retries a request that did not get through with the same Idempotency-Key, and a double click sends one key', async () => {
    let attempts = 0;
    backend({
      'POST admin/vms': () => {
        attempts++;
        return attempts === 1 ? fail(502, 'Bad Gateway') : vmJob({ state: 'running' });
      },
      'GET read/vms/jobs/4': vmJob({ state: 'done', progress: 1, vmid: 100, steps: cloneSteps(6) }),
    });
    await fillWizard();
    const create = screen.getByTestId(testIds.vm.create);
    fireEvent.click(create);
    fireEvent.click(create);
    const error = await screen.findByTestId(testIds.vm.submitError);
    expect(error).toHaveTextContent('The exporter cannot be reached through Grafana: Bad Gateway');
    expect(error).toHaveTextContent('same Idempotency-Key');
    expect(vmPosts()).toHaveLength(1);

    fireEvent.click(screen.getByTestId(testIds.vm.retry));
    await screen.findByTestId(testIds.vm.success);
    const posts = vmPosts();
    expect(posts).toHaveLength(2);
    expect(keyOf(posts[1]!)).toBe(keyOf(posts[0]!));
    expect(posts[1]!.data).toEqual(posts[0]!.data);
  });

  it("shows the exporter's 409 in words", async () => {
    backend({
      'POST admin/vms': fail(409, 'subnet 10.20.0.0/24 has no free address(es); 1 requested', 'conflict'),
    });
    await fillWizard();
    fireEvent.click(screen.getByTestId(testIds.vm.create));
    expect(await screen.findByTestId(testIds.vm.submitError)).toHaveTextContent(
      'The address is taken, or the subnet has no free address: subnet 10.20.0.0/24 has no free address(es); 1 requested'
    );
    // Not a transport failure: Create again (after a change), no Retry.
    expect(screen.queryByTestId(testIds.vm.retry)).not.toBeInTheDocument();
    expect(screen.getByTestId(testIds.vm.create)).toBeEnabled();
  });

  it('explains to a non-Admin instead of showing the form, and asks nothing', async () => {
    setRole('Editor');
    backend();
    renderAt(<CreateVm pollMs={5} />, '/vms/new');
    expect(await screen.findByTestId(testIds.vm.notAdmin)).toHaveTextContent('Creating VMs needs the Admin role');
    expect(screen.queryByTestId(testIds.vm.form)).not.toBeInTheDocument();
    expect(mockFetch).not.toHaveBeenCalled();
  });

  it('shows how to configure Proxmox when the exporter has none (503), and other errors as errors', async () => {
    backend({
      'GET read/proxmox/nodes': PROXMOX_NOT_CONFIGURED,
    });
    const { unmount } = renderAt(<CreateVm pollMs={5} />, '/vms/new');
    const how = await screen.findByTestId(testIds.vm.notConfigured);
    expect(how).toHaveTextContent('LANSCAPE_PROXMOX_URL');
    expect(how).toHaveTextContent('LANSCAPE_PROXMOX_TOKEN_SECRET');
    expect(screen.queryByTestId(testIds.vm.form)).not.toBeInTheDocument();
    unmount();

    backend({
      'GET read/proxmox/nodes': fail(
        503,
        'the first Proxmox inventory has not finished yet; try again in a moment',
        'unavailable'
      ),
    });
    renderAt(<CreateVm pollMs={5} />, '/vms/new');
    expect(await screen.findByText('Cannot load the Proxmox nodes')).toBeInTheDocument();
    expect(screen.getByText(/the first Proxmox inventory has not finished yet/)).toBeInTheDocument();
  });
});
