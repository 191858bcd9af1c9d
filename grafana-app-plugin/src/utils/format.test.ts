import { formatCount, formatPercent, formatRtt, timeAgo } from './format';

describe('format', () => {
  const now = Date.parse('2026-11-22T10:00:00.000Z');
  it('says how long ago in the largest unit', () => {
    expect(timeAgo('2026-11-22T09:48:00.000Z', now)).toBe('12m ago');
    expect(timeAgo('2026-11-22T07:00:00.000Z', now)).toBe('3h ago');
    expect(timeAgo('2026-11-19T10:00:00.000Z', now)).toBe('3d ago');
    expect(timeAgo('2026-11-22T09:59:58.000Z', now)).toBe('just now');
    expect(timeAgo(null, now)).toBe('never');
  });
  it('formats latency, counts and ratios', () => {
    expect(formatRtt(0.00042)).toBe('0.42 ms');
    expect(formatRtt(0.0123)).toBe('12 ms');
    expect(formatRtt(1.5)).toBe('1.5 s');
    expect(formatRtt(null)).toBe('–');
    expect(formatCount(65534)).toBe('65,534');
    expect(formatCount(2 ** 64)).toBe('1.84e19');
    expect(formatPercent(0.5)).toBe('50 %');
    expect(formatPercent(0.4567)).toBe('45.7 %');
    expect(formatPercent(null)).toBe('–');
  });
});
