import { trafficInput } from '../test/fixtures';
import {
  bitsToMbps,
  emptyTrafficForm,
  formatBitrate,
  formatInterval,
  formatJitter,
  formatLoss,
  mbpsToBits,
  parseInterval,
  toScheduleInput,
  toSchedulePatch,
  toTrafficInput,
  validateScheduleForm,
  validateTrafficForm,
} from './traffic';

const HOSTS = ['loop-a', 'loop-b'];

describe('traffic formatting', () => {
  it('formats throughput in bit/s units with three significant digits', () => {
    expect(formatBitrate(940_123_456)).toBe('940 Mbit/s');
    expect(formatBitrate(41_234_000_000)).toBe('41.2 Gbit/s');
    expect(formatBitrate(1_000_000_000)).toBe('1 Gbit/s');
    expect(formatBitrate(12_345_678)).toBe('12.3 Mbit/s');
    expect(formatBitrate(850_000)).toBe('850 kbit/s');
    expect(formatBitrate(12)).toBe('12 bit/s');
    expect(formatBitrate(null)).toBe('–');
  });

  it('formats jitter in ms and loss in percent', () => {
    expect(formatJitter(0.000012)).toBe('0.012 ms');
    expect(formatJitter(0.0014)).toBe('1.4 ms');
    expect(formatJitter(0.25)).toBe('250 ms');
    expect(formatJitter(null)).toBe('–');
    expect(formatLoss(0.0012)).toBe('0.12 %');
    expect(formatLoss(null)).toBe('–');
  });

  it('converts Mbit/s to bits/s and back', () => {
    expect(mbpsToBits('100')).toBe(100_000_000);
    expect(mbpsToBits(' 0.5 ')).toBe(500_000);
    expect(mbpsToBits('')).toBeUndefined();
    expect(mbpsToBits('fast')).toBeNaN();
    expect(mbpsToBits('0')).toBeNaN();
    expect(mbpsToBits('-5')).toBeNaN();
    expect(mbpsToBits('100000')).toBe(100e9);
    expect(mbpsToBits('100001')).toBeNaN();
    expect(bitsToMbps(500_000)).toBe('0.5');
    expect(bitsToMbps(null)).toBe('');
  });

  it('parses and formats schedule intervals', () => {
    expect(parseInterval('15m')).toBe(900);
    expect(parseInterval('1h')).toBe(3600);
    expect(parseInterval('2d')).toBe(172_800);
    expect(parseInterval('90')).toBe(90);
    expect(parseInterval('1.5h')).toBeUndefined();
    expect(parseInterval('soon')).toBeUndefined();
    expect(formatInterval(900)).toBe('15m');
    expect(formatInterval(5400)).toBe('90m');
    expect(formatInterval(86_400)).toBe('1d');
    expect(formatInterval(90)).toBe('90s');
  });
});

describe('traffic form', () => {
  const valid = emptyTrafficForm({ source: 'loop-a', target: 'loop-b' });

  it('accepts a configured host or an IPv4/IPv6 address as the target', () => {
    expect(validateTrafficForm(valid, HOSTS)).toEqual({});
    expect(validateTrafficForm({ ...valid, target: '10.0.0.7' }, HOSTS)).toEqual({});
    expect(validateTrafficForm({ ...valid, target: 'fd00::7' }, HOSTS)).toEqual({});
    expect(validateTrafficForm({ ...valid, target: '10.0.0.300' }, HOSTS).target).toBe(
      '10.0.0.300 is neither a configured host nor an IPv4 or IPv6 address'
    );
    expect(validateTrafficForm({ ...valid, source: '', target: '' }, HOSTS)).toMatchObject({
      source: 'Choose the host that runs the iperf3 client',
      target: 'Choose a host or type an IP address',
    });
    expect(validateTrafficForm({ ...valid, source: 'nope' }, HOSTS).source).toBe('nope is not a configured SSH host');
  });

  it('mirrors the exporter limits: duration 1–300 s, 1–32 streams, a positive UDP bitrate', () => {
    for (const duration of ['0', '301', '2.5', 'ten', '']) {
      expect(validateTrafficForm({ ...valid, duration }, HOSTS).duration).toBe('Whole seconds from 1 to 300');
    }
    expect(validateTrafficForm({ ...valid, duration: '300' }, HOSTS)).toEqual({});
    expect(validateTrafficForm({ ...valid, parallel: '33' }, HOSTS).parallel).toBe('A whole number from 1 to 32');
    expect(validateTrafficForm({ ...valid, parallel: '0' }, HOSTS).parallel).toBeDefined();
    // The bitrate counts for UDP only.
    expect(validateTrafficForm({ ...valid, bitrateMbps: 'x' }, HOSTS)).toEqual({});
    expect(validateTrafficForm({ ...valid, protocol: 'udp', bitrateMbps: 'x' }, HOSTS).bitrateMbps).toBeDefined();
  });

  it('builds the request: bitrate for UDP only, start_server only for a configured target', () => {
    expect(toTrafficInput({ ...valid, duration: '2', startServer: true }, HOSTS)).toEqual(
      trafficInput({ duration_seconds: 2, start_server: true })
    );
    expect(
      toTrafficInput(
        {
          ...valid,
          target: '10.0.0.7',
          protocol: 'udp',
          bitrateMbps: '100',
          startServer: true,
          parallel: '4',
          reverse: true,
        },
        HOSTS
      )
    ).toEqual(
      trafficInput({
        target: '10.0.0.7',
        protocol: 'udp',
        bitrate_bits_per_second: 100_000_000,
        parallel: 4,
        reverse: true,
      })
    );
    expect(toTrafficInput({ ...valid, bitrateMbps: '100' }, HOSTS)).not.toHaveProperty('bitrate_bits_per_second');
  });

  it('checks and builds a schedule', () => {
    const schedule = { ...valid, interval: '15m', floorMbps: '800', enabled: true };
    expect(validateScheduleForm(schedule, HOSTS)).toEqual({});
    expect(validateScheduleForm({ ...schedule, interval: '30s' }, HOSTS).interval).toBeDefined();
    expect(validateScheduleForm({ ...schedule, interval: '8d' }, HOSTS).interval).toBeDefined();
    expect(validateScheduleForm({ ...schedule, floorMbps: 'lots' }, HOSTS).floorMbps).toBeDefined();
    expect(toScheduleInput(schedule, HOSTS)).toEqual({
      ...trafficInput(),
      interval_seconds: 900,
      enabled: true,
      floor_bits_per_second: 800_000_000,
    });
    // Editing clears an emptied bitrate with null; creating leaves it out (the exporter's default).
    expect(toScheduleInput(schedule, HOSTS)).not.toHaveProperty('bitrate_bits_per_second');
    expect(toSchedulePatch(schedule, HOSTS).bitrate_bits_per_second).toBeNull();
    expect(toSchedulePatch({ ...schedule, protocol: 'udp', bitrateMbps: '5' }, HOSTS).bitrate_bits_per_second).toBe(
      5e6
    );
  });
});
