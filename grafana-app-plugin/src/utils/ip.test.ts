import { compareIp, firstAddresses, formatIp, ipInCidr, ipInRange, isIp, parseIp } from './ip';

describe('ip helpers', () => {
  it('parses and formats IPv4', () => {
    expect(parseIp('10.0.0.255')).toEqual({ family: 4, value: BigInt(167772415) });
    expect(formatIp({ family: 4, value: BigInt(167772415) })).toBe('10.0.0.255');
    expect(isIp('10.0.0.256')).toBe(false);
    expect(isIp('10.0.0')).toBe(false);
    expect(isIp('010.0.0.1')).toBe(false);
  });

  it('parses IPv6 forms and formats them the RFC 5952 way', () => {
    const ip = parseIp('2001:DB8:0:0:0:0:0:1');
    expect(ip?.family).toBe(6);
    expect(formatIp(ip!)).toBe('2001:db8::1');
    expect(formatIp(parseIp('2001:db8:0:1:0:0:0:0')!)).toBe('2001:db8:0:1::');
    expect(formatIp(parseIp('::')!)).toBe('::');
    expect(formatIp(parseIp('::ffff:10.0.0.1')!)).toBe('::ffff:a00:1');
    expect(formatIp(parseIp('2001:db8:1:1:1:1:1:1')!)).toBe('2001:db8:1:1:1:1:1:1');
    expect(isIp('2001:db8::1::2')).toBe(false);
    expect(isIp('2001:db8:1:1:1:1:1')).toBe(false);
  });

  it('lists the first addresses of a gap across octet boundaries, never past its end', () => {
    expect(firstAddresses('10.0.0.254', '10.0.1.2', 16)).toEqual([
      '10.0.0.254',
      '10.0.0.255',
      '10.0.1.0',
      '10.0.1.1',
      '10.0.1.2',
    ]);
    expect(firstAddresses('10.0.0.15', '10.0.0.200', 3)).toEqual(['10.0.0.15', '10.0.0.16', '10.0.0.17']);
    expect(firstAddresses('2001:db8::ffff', '2001:db8::1:5', 2)).toEqual(['2001:db8::ffff', '2001:db8::1:0']);
    expect(firstAddresses('10.0.0.9', '10.0.0.1', 4)).toEqual([]);
  });

  it('compares and tests containment', () => {
    expect(['10.0.0.10', '10.0.0.9', '2001:db8::1', '10.0.0.100'].sort(compareIp)).toEqual([
      '10.0.0.9',
      '10.0.0.10',
      '10.0.0.100',
      '2001:db8::1',
    ]);
    expect(ipInRange('10.0.0.150', '10.0.0.100', '10.0.0.199')).toBe(true);
    expect(ipInRange('10.0.0.200', '10.0.0.100', '10.0.0.199')).toBe(false);
    expect(ipInCidr('10.0.1.5', '10.0.0.0/23')).toBe(true);
    expect(ipInCidr('10.0.2.5', '10.0.0.0/23')).toBe(false);
    expect(ipInCidr('2001:db8::5', '2001:db8::/64')).toBe(true);
  });
});
