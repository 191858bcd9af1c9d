import React from 'react';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { AuditEntry, LanscapeEvent } from '../../api/types';
import { testIds } from '../../components/testIds';
import { calls, routes } from '../../test/backend';
import '../../test/dom';
import { renderAt } from '../../test/render';
import Activity, { fromAudit, mergeActivity } from './Activity';

const mockFetch = jest.fn();
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getBackendSrv: () => ({ fetch: mockFetch }),
}));

const events: LanscapeEvent[] = [
  {
    id: 1,
    vrf_id: 1,
    at: '2026-11-22T09:00:00.000Z',
    kind: 'down',
    address: '10.0.0.14',
    subnet_id: 1,
    message: 'went down',
    details: null,
  },
  {
    id: 2,
    vrf_id: 1,
    at: '2026-11-22T07:00:00.000Z',
    kind: 'new_device',
    address: '10.0.0.77',
    subnet_id: 1,
    message: 'new device (Raspberry Pi)',
    details: null,
  },
];
const audit: AuditEntry[] = [
  {
    id: 9,
    at: '2026-11-22T08:00:00.000Z',
    actor: 'grafana',
    grafana_user: 'alice',
    request_id: null,
    action: 'update',
    object_type: 'address',
    object_id: 14,
    object_repr: '10.0.0.14',
    before: { address: '10.0.0.14', subnet_id: 1, hostname: 'cam', owner: null, updated_at: 'a' },
    after: { address: '10.0.0.14', subnet_id: 1, hostname: 'cam-lobby', owner: 'facilities', updated_at: 'b' },
  },
  {
    id: 10,
    at: '2026-11-22T09:30:00.000Z',
    actor: 'grafana',
    grafana_user: null,
    request_id: null,
    action: 'delete',
    object_type: 'subnet',
    object_id: 3,
    object_repr: '10.9.0.0/24',
    before: { cidr: '10.9.0.0/24' },
    after: null,
  },
];

describe('Activity', () => {
  beforeEach(() => mockFetch.mockReset());

  it('merges events and audit entries newest first', () => {
    expect(mergeActivity(events, audit).map((i) => i.key)).toEqual(['audit-10', 'event-1', 'audit-9', 'event-2']);
    expect(fromAudit(audit[0]!)).toMatchObject({
      kind: 'audit_update',
      text: 'updated address 10.0.0.14: hostname, owner',
      actor: 'alice (grafana)',
      address: '10.0.0.14',
      addressId: 14,
      subnetId: 1,
    });
    // A deleted object has nothing to link to.
    expect(fromAudit(audit[1]!).subnetId).toBeUndefined();
  });

  it('lists the feed with links to the subnet and address, and filters by kind and text', async () => {
    mockFetch.mockImplementation(
      routes({ 'GET read/events': { count: 2, results: events }, 'GET read/audit': { count: 2, results: audit } })
    );
    renderAt(<Activity />, '/activity');
    const down = await screen.findByTestId(testIds.activity.item('event-1'));
    expect(within(down).getByRole('link', { name: '10.0.0.14' })).toHaveAttribute(
      'href',
      '/a/lanscape-ipam-app/subnets/1?q=10.0.0.14'
    );
    expect(
      within(screen.getByTestId(testIds.activity.item('audit-9'))).getByRole('link', { name: '10.0.0.14' })
    ).toHaveAttribute('href', '/a/lanscape-ipam-app/subnets/1?address=14');
    expect(screen.getAllByTestId(/^activity-item-/).map((e) => e.getAttribute('data-testid'))).toEqual([
      'activity-item-audit-10',
      'activity-item-event-1',
      'activity-item-audit-9',
      'activity-item-event-2',
    ]);

    // Every event here is in the global VRF: no chip, no request for the VRFs.
    expect(screen.queryByTestId(testIds.vrfChip)).toBeNull();
    expect(calls(mockFetch).some((c) => c.includes('/vrfs'))).toBe(false);

    fireEvent.change(screen.getByPlaceholderText('Address or text'), { target: { value: 'raspberry' } });
    await waitFor(() => expect(screen.getAllByTestId(/^activity-item-/)).toHaveLength(1));
    expect(screen.getByTestId(testIds.activity.item('event-2'))).toBeInTheDocument();
  });

  it('asks only for audit entries when the kind is IPAM changes, and only for events of a kind', async () => {
    mockFetch.mockImplementation(
      routes({ 'GET read/events': { count: 1, results: [events[0]] }, 'GET read/audit': { count: 2, results: audit } })
    );
    renderAt(<Activity />, '/activity?kind=changes');
    await screen.findByTestId(testIds.activity.item('audit-9'));
    expect(calls(mockFetch).some((c) => c.includes('/read/events'))).toBe(false);

    mockFetch.mockClear();
    renderAt(<Activity />, '/activity?kind=down&q=10.0.0.14');
    await waitFor(() =>
      expect(calls(mockFetch)).toContain(
        'GET /api/plugin-proxy/lanscape-ipam-app/read/events?limit=100&kind=down&address=10.0.0.14'
      )
    );
    expect(calls(mockFetch).some((c) => c.includes('/read/audit'))).toBe(false);
  });

  it('names the VRF of an event outside the global one (the same address may be in two)', async () => {
    const siteB: LanscapeEvent = { ...events[1]!, id: 3, vrf_id: 2, message: 'new device at site B' };
    mockFetch.mockImplementation(
      routes({
        'GET read/events': { count: 3, results: [...events, siteB] },
        'GET read/audit': { count: 0, results: [] },
        'GET read/vrfs': {
          count: 2,
          results: [
            { id: 1, name: 'global', rd: null, description: '', subnets: 3, created_at: '', updated_at: '' },
            { id: 2, name: 'site-b', rd: null, description: '', subnets: 1, created_at: '', updated_at: '' },
          ],
        },
      })
    );
    renderAt(<Activity />, '/activity');
    const item = await screen.findByTestId(testIds.activity.item('event-3'));
    await waitFor(() => expect(within(item).getByTestId(testIds.vrfChip)).toHaveAttribute('data-vrf', 'site-b'));
    expect(within(screen.getByTestId(testIds.activity.item('event-2'))).queryByTestId(testIds.vrfChip)).toBeNull();
  });
});
