import { describePrefixLength, formatHosts, prefixLengthForHosts, usableHosts } from './prefix-size';

describe('prefix size helper', () => {
  it('counts IPv4 hosts without network and broadcast below /31', () => {
    expect(usableHosts(4, 24)).toBe(BigInt(254));
    expect(usableHosts(4, 30)).toBe(BigInt(2));
    expect(usableHosts(4, 31)).toBe(BigInt(2));
    expect(usableHosts(4, 32)).toBe(BigInt(1));
    expect(usableHosts(4, 0)).toBe(BigInt(4294967294));
  });

  it('gives the longest IPv4 length that holds the hosts, /31 and /32 included', () => {
    expect(prefixLengthForHosts(4, 1)).toBe(32);
    expect(prefixLengthForHosts(4, 2)).toBe(31);
    // a /30 holds only 2 once network and broadcast are out: 3 hosts need a /29
    expect(prefixLengthForHosts(4, 3)).toBe(29);
    expect(prefixLengthForHosts(4, 6)).toBe(29);
    expect(prefixLengthForHosts(4, 7)).toBe(28);
    expect(prefixLengthForHosts(4, 62)).toBe(26);
    expect(prefixLengthForHosts(4, 63)).toBe(25);
    expect(prefixLengthForHosts(4, 254)).toBe(24);
    expect(prefixLengthForHosts(4, 255)).toBe(23);
    expect(prefixLengthForHosts(4, 4294967294)).toBe(0);
    expect(prefixLengthForHosts(4, 4294967295)).toBeUndefined();
    expect(prefixLengthForHosts(4, 0)).toBeUndefined();
  });

  it('counts the whole IPv6 block', () => {
    expect(usableHosts(6, 128)).toBe(BigInt(1));
    expect(usableHosts(6, 64)).toBe(BigInt(1) << BigInt(64));
    expect(prefixLengthForHosts(6, 1)).toBe(128);
    expect(prefixLengthForHosts(6, 2)).toBe(127);
    expect(prefixLengthForHosts(6, 3)).toBe(126);
    expect(prefixLengthForHosts(6, 256)).toBe(120);
    expect(prefixLengthForHosts(6, 257)).toBe(119);
    expect(prefixLengthForHosts(6, Number.MAX_SAFE_INTEGER)).toBe(75);
    expect(prefixLengthForHosts(6, (BigInt(1) << BigInt(64)) + BigInt(1))).toBe(63);
  });

  it('describes a length as the form shows it', () => {
    expect(describePrefixLength(4, 26)).toBe('/26 · 62 usable');
    expect(describePrefixLength(4, 32)).toBe('/32 · 1 usable');
    expect(describePrefixLength(4, 16)).toBe('/16 · 65,534 usable');
    expect(describePrefixLength(6, 120)).toBe('/120 · 256 addresses');
    expect(formatHosts(6, 64)).toBe('2^64 addresses');
    expect(formatHosts(6, 96)).toBe('4,294,967,296 addresses');
  });
});
