// The query editor shows the fields of the chosen query type and hands changes to Grafana.
import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import '../test/dom';
import { QueryEditor } from './QueryEditor';
import type { LanscapeQuery } from './types';

function setup(query: Partial<LanscapeQuery>) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const props = {
    query: { refId: 'A', ...query },
    onChange,
    onRunQuery,
    datasource: {},
  } as unknown as React.ComponentProps<typeof QueryEditor>;
  render(<QueryEditor {...props} />);
  return { onChange, onRunQuery };
}

describe('QueryEditor', () => {
  it('addresses: subnet (template variables allowed) and filters; the query runs on blur', () => {
    const { onChange, onRunQuery } = setup({ queryType: 'addresses' });
    for (const label of ['Subnet', 'State', 'Source', 'Status', 'Tag', 'Search']) {
      expect(screen.getByLabelText(label)).toBeInTheDocument();
    }
    const subnet = screen.getByLabelText('Subnet');
    expect(subnet).toHaveAttribute('placeholder', '$subnet');
    fireEvent.change(subnet, { target: { value: '10.20.30.0/24' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'addresses', subnet: '10.20.30.0/24' });
    expect(onRunQuery).not.toHaveBeenCalled();
    fireEvent.blur(subnet);
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('VRF (#15): beside the subnet of every type that takes one, empty meaning global; template variables allowed', () => {
    const { onChange } = setup({ queryType: 'addresses', subnet: '$subnet' });
    const vrf = screen.getByLabelText('VRF');
    expect(vrf).toHaveAttribute('placeholder', 'global');
    fireEvent.change(vrf, { target: { value: '$vrf' } });
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'addresses', subnet: '$subnet', vrf: '$vrf' });
    for (const queryType of ['freeRanges', 'ranges', 'events', 'conflicts'] as const) {
      const { unmount } = render(
        <QueryEditor
          {...({
            query: { refId: 'B', queryType },
            onChange,
            onRunQuery: jest.fn(),
            datasource: {},
          } as unknown as React.ComponentProps<typeof QueryEditor>)}
        />
      );
      expect(screen.getAllByLabelText('VRF')).toHaveLength(2);
      unmount();
    }
  });

  it('subnets: no subnet field; guests: the platform switch runs the query', () => {
    setup({ queryType: 'subnets' });
    expect(screen.queryByLabelText('Subnet')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('VRF')).not.toBeInTheDocument();
    const { onChange, onRunQuery } = setup({ queryType: 'guests' });
    fireEvent.click(screen.getByLabelText('Docker'));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: 'guests', platform: 'docker' });
    expect(onRunQuery).toHaveBeenCalled();
  });
});
