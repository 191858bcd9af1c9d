import React from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';
import type { SubnetRow } from '../../../api/types';
import { address, addressRow, gapRow, observation, range } from '../../../test/fixtures';
import { Router } from '../../../test/render';
import { AddressTable, ROW_HEIGHT } from './AddressTable';
import { statusDescription } from './StatusPill';
import { testIds } from '../../../components/testIds';

const NOW = Date.parse('2026-11-22T10:00:00.000Z');

function renderTable(rows: SubnetRow[], props: Partial<React.ComponentProps<typeof AddressTable>> = {}) {
  const onOpen = jest.fn();
  const onReserve = jest.fn();
  const utils = render(
    <Router>
      <AddressTable
        subnetId={1}
        rows={rows}
        ranges={[range()]}
        onOpen={onOpen}
        onReserve={onReserve}
        now={NOW}
        {...props}
      />
    </Router>
  );
  return { ...utils, onOpen, onReserve };
}

const rows: SubnetRow[] = [
  addressRow(
    address('10.0.0.1', {
      hostname: 'gw',
      mac: 'aa:bb:cc:00:00:01',
      observed: observation({
        status: 'up',
        rtt_seconds: 0.0123,
        vendor: 'Ubiquiti',
        ports: [
          { port: 443, protocol: 'tcp', service: 'https', product: null, version: null },
          { port: 22, protocol: 'tcp', service: 'ssh', product: 'OpenSSH', version: '9.6' },
        ],
      }),
    })
  ),
  gapRow('10.0.0.2', '10.0.0.13', 12),
  addressRow(
    address('10.0.0.14', { observed: observation({ status: 'down', status_changed_at: '2026-11-22T09:48:00.000Z' }) })
  ),
  gapRow('10.0.0.15', '10.0.0.99', 85),
  gapRow('10.0.0.100', '10.0.0.199', 100, 7),
  gapRow('10.0.0.200', '10.0.0.200', 1),
];

describe('AddressTable', () => {
  it('renders address rows with status, latency and port chips, and gaps as one row each', () => {
    renderTable(rows);
    const table = screen.getByTestId(testIds.subnet.table);
    expect(within(table).getAllByRole('row')).toHaveLength(1 + rows.length);

    const gw = screen.getByTestId(testIds.subnet.addressRow('10.0.0.1'));
    expect(within(gw).getByTestId(testIds.statusPill)).toHaveAttribute('data-status', 'up');
    expect(gw).toHaveTextContent('gw');
    expect(gw).toHaveTextContent('aa:bb:cc:00:00:01');
    expect(gw).toHaveTextContent('Ubiquiti');
    expect(gw).toHaveTextContent('12 ms');
    // Ports sorted: 22/ssh before 443/https
    expect(gw.textContent!.indexOf('22/ssh')).toBeLessThan(gw.textContent!.indexOf('443/https'));

    expect(screen.getByTestId(testIds.subnet.gapRow('10.0.0.15'))).toHaveTextContent('10.0.0.15 – 10.0.0.99 · 85 free');
    expect(screen.getByTestId(testIds.subnet.gapRow('10.0.0.200'))).toHaveTextContent(/^10\.0\.0\.200 · 1 free$/);
    expect(
      within(screen.getByTestId(testIds.subnet.addressRow('10.0.0.14'))).getByTestId(testIds.statusPill)
    ).toHaveAttribute('data-status', 'down');
  });

  it('shows the range label and colour on a gap inside a range', () => {
    renderTable(rows);
    const inRange = screen.getByTestId(testIds.subnet.gapRow('10.0.0.100'));
    expect(inRange).toHaveTextContent('10.0.0.100 – 10.0.0.199 · 100 free');
    expect(inRange).toHaveTextContent('DHCP pool');
    expect(inRange).toHaveTextContent('dhcp');
    expect(inRange.style.borderLeftColor).toBe('#33aa55');
    expect(screen.getByTestId(testIds.subnet.gapRow('10.0.0.15'))).not.toHaveTextContent('DHCP pool');
  });

  it('expands a gap on click to its first 16 free addresses, each with a Reserve action', () => {
    const { onReserve } = renderTable(rows);
    const gap = screen.getByTestId(testIds.subnet.gapRow('10.0.0.15'));
    expect(gap).toHaveAttribute('aria-expanded', 'false');
    expect(screen.queryByTestId(testIds.subnet.gapReserve('10.0.0.15'))).not.toBeInTheDocument();

    fireEvent.click(gap);
    expect(gap).toHaveAttribute('aria-expanded', 'true');
    expect(screen.getByText('First 16 of 85 free addresses: pick one to reserve it.')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.subnet.gapReserve('10.0.0.15'))).toBeInTheDocument();
    expect(screen.getByTestId(testIds.subnet.gapReserve('10.0.0.30'))).toBeInTheDocument();
    expect(screen.queryByTestId(testIds.subnet.gapReserve('10.0.0.31'))).not.toBeInTheDocument();

    fireEvent.click(screen.getByTestId(testIds.subnet.gapReserve('10.0.0.20')));
    expect(onReserve).toHaveBeenCalledWith('10.0.0.20');

    fireEvent.click(gap);
    expect(screen.queryByTestId(testIds.subnet.gapReserve('10.0.0.15'))).not.toBeInTheDocument();
  });

  it('lists a small gap whole', () => {
    renderTable(rows);
    fireEvent.click(screen.getByTestId(testIds.subnet.gapRow('10.0.0.200')));
    expect(screen.getByText('Free addresses: pick one to reserve it.')).toBeInTheDocument();
    expect(screen.getByTestId(testIds.subnet.gapReserve('10.0.0.200'))).toBeInTheDocument();
  });

  it('is keyboard navigable: arrows move focus, Enter opens an address or expands a gap', () => {
    const { onOpen } = renderTable(rows);
    const first = screen.getByTestId(testIds.subnet.addressRow('10.0.0.1'));
    expect(first).toHaveAttribute('tabindex', '0');
    expect(screen.getByTestId(testIds.subnet.gapRow('10.0.0.2'))).toHaveAttribute('tabindex', '-1');

    first.focus();
    fireEvent.keyDown(first, { key: 'Enter' });
    expect(onOpen).toHaveBeenCalledWith(expect.objectContaining({ address: '10.0.0.1' }));

    fireEvent.keyDown(first, { key: 'ArrowDown' });
    const gap = screen.getByTestId(testIds.subnet.gapRow('10.0.0.2'));
    expect(gap).toHaveFocus();
    expect(gap).toHaveAttribute('tabindex', '0');
    fireEvent.keyDown(gap, { key: 'Enter' });
    expect(gap).toHaveAttribute('aria-expanded', 'true');

    fireEvent.keyDown(gap, { key: 'End' });
    expect(screen.getByTestId(testIds.subnet.gapRow('10.0.0.200'))).toHaveFocus();
  });

  it('renders only the rows in view of a large subnet and follows the scroll', () => {
    const many: SubnetRow[] = [];
    for (let i = 0; i < 5000; i++) {
      many.push(addressRow(address(`10.1.${Math.floor(i / 256)}.${i % 256}`)));
    }
    const onEndReached = jest.fn();
    renderTable(many, { onEndReached });
    const table = screen.getByTestId(testIds.subnet.table);
    const rendered = within(table).getAllByRole('row').length;
    expect(rendered).toBeGreaterThan(10);
    expect(rendered).toBeLessThan(100);
    expect(table).toHaveAttribute('aria-rowcount', '5001');
    expect(screen.queryByTestId(testIds.subnet.addressRow('10.1.9.196'))).not.toBeInTheDocument();
    expect(onEndReached).not.toHaveBeenCalled();

    // Row 2500 is 10.1.9.196; scroll it into view.
    const scroller = table.parentElement!;
    scroller.scrollTop = 2500 * ROW_HEIGHT;
    fireEvent.scroll(scroller);
    expect(screen.getByTestId(testIds.subnet.addressRow('10.1.9.196'))).toBeInTheDocument();
    expect(screen.queryByTestId(testIds.subnet.addressRow('10.1.0.0'))).not.toBeInTheDocument();

    scroller.scrollTop = 4990 * ROW_HEIGHT;
    fireEvent.scroll(scroller);
    expect(onEndReached).toHaveBeenCalled();
  });
});

describe('StatusPill words', () => {
  it('says how long a host has been down or up', () => {
    expect(statusDescription(observation({ status: 'down', status_changed_at: '2026-11-22T09:48:00.000Z' }), NOW)).toBe(
      'down 12m ago'
    );
    expect(statusDescription(observation({ status: 'up', status_changed_at: '2026-11-22T07:00:00.000Z' }), NOW)).toBe(
      'up since 3h ago'
    );
    expect(statusDescription(null, NOW)).toBe('not checked yet');
  });
});
