// The subnet map from the data source's addresses frame (frames.ts): layout, blocks, zoom, the
// hover card, clicks into the app, and errors shown in the panel. (The browser test renders the
// built panel with a real exporter's frames.)
import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { type DataFrame, getDefaultTimeRange, LoadingState, type PanelProps } from '@grafana/data';
import { locationService } from '@grafana/runtime';
import { addressesFrame } from '../../datasource/frames';
import { address, observation, subnet, utilization } from '../../test/fixtures';
import { buildModel, gridCells } from '../../components/SubnetMap/model';
import { SubnetMapPanel } from './SubnetMapPanel';
import type { SubnetMapOptions } from './types';

const office = subnet({ id: 7, cidr: '10.20.30.0/24', name: 'office', utilization: utilization(4, 254) });
const officeFrame = () =>
  addressesFrame('A', office, [
    address('10.20.30.1', { id: 1, state: 'reserved', hostname: 'gw', owner: 'netops', observed: observation() }),
    address('10.20.30.10', {
      id: 10,
      state: 'assigned',
      observed: observation({ status: 'down', mac: '02:00:00:00:00:10', vendor: 'Acme' }),
    }),
    address('10.20.30.100', { id: 100, state: 'dhcp' }),
    address('10.20.30.150', { id: 150, state: 'assigned', source: 'discovered', observed: observation() }),
  ]);

function props(series: DataFrame[], extra: Partial<PanelProps<SubnetMapOptions>> = {}): PanelProps<SubnetMapOptions> {
  return {
    id: 1,
    data: { state: LoadingState.Done, series, timeRange: getDefaultTimeRange() },
    timeRange: getDefaultTimeRange(),
    timeZone: 'utc',
    options: { colorBy: 'state', showLegend: true },
    fieldConfig: { defaults: {}, overrides: [] },
    transparent: false,
    width: 600,
    height: 600,
    renderCounter: 0,
    title: 'Subnet map',
    eventBus: { publish: jest.fn() } as never,
    onOptionsChange: jest.fn(),
    onFieldConfigChange: jest.fn(),
    replaceVariables: (s: string) => s,
    onChangeTimeRange: jest.fn(),
    ...extra,
  } as PanelProps<SubnetMapOptions>;
}

const cell = (i: number) => document.querySelector(`[data-index="${i}"]`) as HTMLElement;

describe('subnet map model', () => {
  it('a /24: 256 cells, network and broadcast marked, states and discovered apart', () => {
    const r = buildModel(officeFrame());
    if (!('model' in r)) {
      throw new Error(JSON.stringify(r));
    }
    expect(r.model.blocks).toBeNull();
    const cells = gridCells(r.model, null);
    expect(cells).toHaveLength(256);
    expect(cells.map((c) => c.category).slice(0, 3)).toEqual(['network', 'reserved', 'free']);
    expect(cells[255]!.category).toBe('broadcast');
    expect(cells[100]!.category).toBe('dhcp');
    expect(cells[150]!.category).toBe('discovered');
    expect(cells[10]!.info).toMatchObject({ status: 'down', mac: '02:00:00:00:00:10', vendor: 'Acme' });
    expect(cells[3]!.address).toBe('10.20.30.3');
  });

  it('a /16: one block per /24 with counts; a block zooms into its 256 addresses', () => {
    const big = subnet({ id: 8, cidr: '10.40.0.0/16', prefix_length: 16, utilization: utilization(3, 65534) });
    const frame = addressesFrame('A', big, [
      address('10.40.0.1', { state: 'reserved', observed: observation() }),
      address('10.40.0.2', { observed: observation({ status: 'down' }) }),
      address('10.40.255.7', { state: 'dhcp' }),
    ]);
    const r = buildModel(frame);
    if (!('model' in r)) {
      throw new Error(JSON.stringify(r));
    }
    expect(r.model.blocks).toHaveLength(256);
    expect(r.model.blocks![0]).toMatchObject({
      cidr: '10.40.0.0/24',
      used: 2,
      up: 1,
      down: 1,
      byCategory: { reserved: 1, assigned: 1 },
    });
    expect(r.model.blocks![255]).toMatchObject({ cidr: '10.40.255.0/24', used: 1, byCategory: { dhcp: 1 } });
    const zoomed = gridCells(r.model, 255);
    expect(zoomed[7]).toMatchObject({ address: '10.40.255.7', category: 'dhcp' });
    // Inside a /16, .0 and .255 of a /24 are ordinary addresses.
    expect(zoomed[0]!.category).toBe('free');
  });

  it('a subnet larger than a /16 is refused, with words', () => {
    const corp = subnet({ cidr: '10.0.0.0/8', prefix_length: 8, utilization: utilization(0, 16777214) });
    expect(buildModel(addressesFrame('A', corp, []))).toEqual({
      error:
        '10.0.0.0/8 is too large for a map (16,777,214 addresses): the subnet map shows subnets from /16 to /32. Choose one of its smaller subnets.',
    });
  });
});

describe('SubnetMapPanel', () => {
  it('draws the grid, shows the card on hover and opens the address on click', () => {
    render(<SubnetMapPanel {...props([officeFrame()])} />);
    expect(screen.getByTestId('subnet-map')).toHaveAttribute('data-view', 'grid');
    expect(screen.getByText('4 of 254 used')).toBeInTheDocument();
    fireEvent.mouseMove(cell(10));
    const card = screen.getByTestId('subnet-map-card');
    expect(card).toHaveTextContent('10.20.30.10');
    expect(card).toHaveTextContent('02:00:00:00:00:10 · Acme');
    expect(card).toHaveTextContent('down');
    const push = jest.spyOn(locationService, 'push').mockImplementation(() => {});
    fireEvent.click(cell(10));
    expect(push).toHaveBeenLastCalledWith('/a/lanscape-ipam-app/subnets/7?address=10');
    fireEvent.click(cell(3));
    expect(push).toHaveBeenLastCalledWith('/a/lanscape-ipam-app/reserve?subnet=7&address=10.20.30.3&mode=specific');
    push.mockRestore();
  });

  it('zooms from the block map into a /24 and back', () => {
    const big = subnet({ id: 8, cidr: '10.40.0.0/16', prefix_length: 16, utilization: utilization(1, 65534) });
    render(<SubnetMapPanel {...props([addressesFrame('A', big, [address('10.40.5.9', { state: 'reserved' })])])} />);
    expect(screen.getByTestId('subnet-map')).toHaveAttribute('data-view', 'blocks');
    expect(cell(5)).toHaveAttribute('data-used', '1');
    fireEvent.click(cell(5));
    expect(screen.getByTestId('subnet-map')).toHaveAttribute('data-view', 'grid');
    expect(screen.getByText('10.40.5.0/24')).toBeInTheDocument();
    expect(cell(9)).toHaveAttribute('data-category', 'reserved');
    fireEvent.click(screen.getByRole('button', { name: 'Back to the whole subnet' }));
    expect(screen.getByTestId('subnet-map')).toHaveAttribute('data-view', 'blocks');
  });

  it('shows the query errors in the panel, and asks for a query when there is no addresses frame', () => {
    const { rerender } = render(
      <SubnetMapPanel
        {...props([], {
          data: {
            state: LoadingState.Error,
            series: [],
            errors: [{ refId: 'A', message: 'Subnet 9 does not exist in Lanscape (deleted?). Choose another subnet.' }],
            timeRange: getDefaultTimeRange(),
          },
        })}
      />
    );
    expect(screen.getByRole('alert')).toHaveTextContent('Subnet 9 does not exist in Lanscape (deleted?)');
    rerender(<SubnetMapPanel {...props([])} />);
    expect(screen.getByTestId('subnet-map-empty')).toHaveTextContent('Query the Lanscape data source');
  });
});
