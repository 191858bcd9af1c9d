import { address, addressRow, gapRow, observation } from '../test/fixtures';
import { filterFromParams, filterRows } from './filter';

describe('address filters', () => {
  const rows = [
    addressRow(
      address('10.0.0.1', {
        hostname: 'gw',
        tags: ['core'],
        observed: observation({
          status: 'up',
          ports: [{ port: 22, protocol: 'tcp', service: 'ssh', product: null, version: null }],
        }),
      })
    ),
    gapRow('10.0.0.2', '10.0.0.9', 8),
    addressRow(
      address('10.0.0.10', {
        state: 'reserved',
        observed: observation({ status: 'down', vendor: 'Raspberry Pi Trading' }),
      })
    ),
    addressRow(address('10.0.0.11', { state: 'dhcp' })),
  ];
  const ips = (f: string) =>
    filterRows(rows, filterFromParams(new URLSearchParams(f))).map((r) =>
      r.type === 'gap' ? `gap ${r.start_address}` : r.address.address
    );

  it('keeps everything without filters', () => {
    expect(ips('')).toHaveLength(4);
  });
  it('filters by status (missing observation is unknown), state, tag and port or service', () => {
    expect(ips('status=down')).toEqual(['10.0.0.10']);
    expect(ips('status=unknown')).toEqual(['10.0.0.11']);
    expect(ips('state=dhcp')).toEqual(['10.0.0.11']);
    expect(ips('tag=CORE')).toEqual(['10.0.0.1']);
    expect(ips('port=22')).toEqual(['10.0.0.1']);
    expect(ips('port=ssh')).toEqual(['10.0.0.1']);
    expect(ips('port=443')).toEqual([]);
  });
  it('searches text fields and finds the gap an address would fall in', () => {
    expect(ips('q=raspberry')).toEqual(['10.0.0.10']);
    expect(ips('q=10.0.0.5')).toEqual(['gap 10.0.0.2']);
    expect(ips('q=10.0.0.1')).toEqual(['10.0.0.1', '10.0.0.10', '10.0.0.11']);
  });
});
