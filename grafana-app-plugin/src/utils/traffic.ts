// Traffic tests: the run/schedule form (state, the exporter's checks and limits, request body)
// and the formatting of throughput, jitter, loss and intervals.
import { LIMITS } from '../api/limits.gen';
import type {
  TrafficProtocol,
  TrafficScheduleInput,
  TrafficSchedulePatch,
  TrafficTest,
  TrafficTestInput,
} from '../api/types';
import { type FormErrors, intIn } from './form';
import { formatPercent } from './format';
import { isIp } from './ip';

const TEST = LIMITS.TrafficTestCreate;
const SCHEDULE = LIMITS.TrafficScheduleCreate;
/** The exporter's limits, from its OpenAPI document (TrafficTestCreate, TrafficScheduleCreate). */
export const TRAFFIC_LIMITS = {
  durationMin: TEST.duration_seconds.minimum,
  durationMax: TEST.duration_seconds.maximum,
  parallelMin: TEST.parallel.minimum,
  parallelMax: TEST.parallel.maximum,
  intervalMin: SCHEDULE.interval_seconds.minimum,
  intervalMax: SCHEDULE.interval_seconds.maximum,
  /** bits/s (100 Gbit/s) */
  bitrateMax: TEST.bitrate_bits_per_second.maximum,
} as const;
/** The largest bitrate in Mbit/s, as the forms say it. */
const MAX_MBPS = TRAFFIC_LIMITS.bitrateMax / 1e6;

export interface TrafficForm {
  source: string;
  /** A configured host's name or an IP address. */
  target: string;
  protocol: TrafficProtocol;
  /** Seconds, as typed. */
  duration: string;
  /** Mbit/s, as typed (UDP only; empty for the exporter's default). */
  bitrateMbps: string;
  parallel: string;
  reverse: boolean;
  /** Start a one-off iperf3 server on the target (configured hosts only). */
  startServer: boolean;
}

export interface ScheduleForm extends TrafficForm {
  /** "15m", "1h", "90s" or seconds. */
  interval: string;
  /** Mbit/s; empty for none. */
  floorMbps: string;
  enabled: boolean;
}

export function emptyTrafficForm(overrides: Partial<TrafficForm> = {}): TrafficForm {
  return {
    source: '',
    target: '',
    protocol: 'tcp',
    duration: '10',
    bitrateMbps: '',
    parallel: '1',
    reverse: false,
    startServer: false,
    ...overrides,
  };
}

const NUMBER_RE = /^(\d+(\.\d*)?|\.\d+)$/;

/** Mbit/s as typed → bits/s (an integer), undefined when empty, NaN when not a positive number. */
export function mbpsToBits(text: string): number | undefined {
  const t = text.trim();
  if (!t) {
    return undefined;
  }
  if (!NUMBER_RE.test(t)) {
    return NaN;
  }
  const bits = Math.round(Number(t) * 1e6);
  return bits >= 1 && bits <= TRAFFIC_LIMITS.bitrateMax ? bits : NaN;
}

/** bits/s → Mbit/s as a form would show it ("100", "0.5"). */
export function bitsToMbps(bits: number | null | undefined): string {
  return bits === null || bits === undefined ? '' : String(Number((bits / 1e6).toPrecision(6)));
}

/** Whether the start-server switch applies: only a configured host can start one over SSH. */
export function targetIsHost(form: Pick<TrafficForm, 'target'>, hostNames: string[]): boolean {
  return hostNames.includes(form.target.trim());
}

/** The checks that need no server, worded for the form; the exporter has the final say. */
export function validateTrafficForm(form: TrafficForm, hostNames: string[]): FormErrors<TrafficForm> {
  const errors: FormErrors<TrafficForm> = {};
  const source = form.source.trim();
  const target = form.target.trim();
  if (!source) {
    errors.source = 'Choose the host that runs the iperf3 client';
  } else if (hostNames.length > 0 && !hostNames.includes(source)) {
    errors.source = `${source} is not a configured SSH host`;
  }
  if (!target) {
    errors.target = 'Choose a host or type an IP address';
  } else if (!hostNames.includes(target) && !isIp(target)) {
    errors.target = `${target} is neither a configured host nor an IPv4 or IPv6 address`;
  }
  if (intIn(form.duration, TRAFFIC_LIMITS.durationMin, TRAFFIC_LIMITS.durationMax) === undefined) {
    errors.duration = `Whole seconds from ${TRAFFIC_LIMITS.durationMin} to ${TRAFFIC_LIMITS.durationMax}`;
  }
  if (intIn(form.parallel, TRAFFIC_LIMITS.parallelMin, TRAFFIC_LIMITS.parallelMax) === undefined) {
    errors.parallel = `A whole number from ${TRAFFIC_LIMITS.parallelMin} to ${TRAFFIC_LIMITS.parallelMax}`;
  }
  if (form.protocol === 'udp' && Number.isNaN(mbpsToBits(form.bitrateMbps))) {
    errors.bitrateMbps = `Mbit/s, above 0 and at most ${MAX_MBPS} (for example 100 or 0.5)`;
  }
  return errors;
}

/** The request body of POST /traffic-tests for a valid form. */
export function toTrafficInput(form: TrafficForm, hostNames: string[]): TrafficTestInput {
  const input: TrafficTestInput = {
    source: form.source.trim(),
    target: form.target.trim(),
    protocol: form.protocol,
    duration_seconds: Number(form.duration.trim()),
    parallel: Number(form.parallel.trim()),
    reverse: form.reverse,
    start_server: form.startServer && targetIsHost(form, hostNames),
  };
  const bitrate = form.protocol === 'udp' ? mbpsToBits(form.bitrateMbps) : undefined;
  if (bitrate !== undefined) {
    input.bitrate_bits_per_second = bitrate;
  }
  return input;
}

const INTERVAL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "15m", "1h", "90s", "2d" or plain seconds → seconds; undefined when not one. */
export function parseInterval(text: string): number | undefined {
  const m = /^(\d+)\s*([smhd])?$/i.exec(text.trim());
  if (!m) {
    return undefined;
  }
  return Number(m[1]) * INTERVAL_UNITS[(m[2] ?? 's').toLowerCase()]!;
}

/** Seconds in the largest unit that divides them: 900 → "15m", 5400 → "90m", 86400 → "1d". */
export function formatInterval(seconds: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    const size = INTERVAL_UNITS[unit]!;
    if (seconds >= size && seconds % size === 0) {
      return `${seconds / size}${unit}`;
    }
  }
  return `${seconds}s`;
}

export function validateScheduleForm(form: ScheduleForm, hostNames: string[]): FormErrors<ScheduleForm> {
  const errors: FormErrors<ScheduleForm> = validateTrafficForm(form, hostNames);
  const interval = parseInterval(form.interval);
  if (interval === undefined || interval < TRAFFIC_LIMITS.intervalMin || interval > TRAFFIC_LIMITS.intervalMax) {
    errors.interval = `From ${formatInterval(TRAFFIC_LIMITS.intervalMin)} to ${formatInterval(
      TRAFFIC_LIMITS.intervalMax
    )}, for example 15m, 1h or 3600 (seconds)`;
  }
  if (Number.isNaN(mbpsToBits(form.floorMbps))) {
    errors.floorMbps = `Mbit/s, above 0 and at most ${MAX_MBPS}, or empty for no floor`;
  }
  return errors;
}

/** The body of POST /traffic-schedules. */
export function toScheduleInput(form: ScheduleForm, hostNames: string[]): TrafficScheduleInput {
  return {
    ...toTrafficInput(form, hostNames),
    interval_seconds: parseInterval(form.interval)!,
    enabled: form.enabled,
    floor_bits_per_second: mbpsToBits(form.floorMbps) ?? null,
  };
}

/**
 * The body of PATCH /traffic-schedules/{id}: the whole form, an empty bitrate sent as null, which
 * clears it (the create schema takes no null bitrate).
 */
export function toSchedulePatch(form: ScheduleForm, hostNames: string[]): TrafficSchedulePatch {
  const input = toScheduleInput(form, hostNames);
  return { ...input, bitrate_bits_per_second: input.bitrate_bits_per_second ?? null };
}

/** bits/s → "942 Mbit/s", "41.2 Gbit/s", "850 kbit/s"; null → "–". */
export function formatBitrate(bits: number | null | undefined): string {
  if (bits === null || bits === undefined || !Number.isFinite(bits)) {
    return '–';
  }
  const units: Array<[number, string]> = [
    [1e12, 'Tbit/s'],
    [1e9, 'Gbit/s'],
    [1e6, 'Mbit/s'],
    [1e3, 'kbit/s'],
  ];
  for (const [size, unit] of units) {
    if (Math.abs(bits) >= size) {
      const v = bits / size;
      return `${v >= 100 ? Math.round(v) : Number(v.toPrecision(3))} ${unit}`;
    }
  }
  return `${Math.round(bits)} bit/s`;
}

/** Jitter in seconds → "0.012 ms", "1.4 ms"; null → "–". */
export function formatJitter(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return '–';
  }
  const ms = seconds * 1000;
  return `${ms >= 100 ? Math.round(ms) : Number(ms.toPrecision(2))} ms`;
}

/** Loss ratio → "0.12 %"; null → "–". */
export function formatLoss(ratio: number | null | undefined): string {
  return formatPercent(ratio, 2);
}

/** "loop-a → loop-b", "loop-a → 10.0.0.7"; reverse tests measure the other way. */
export function pairLabel(t: Pick<TrafficTest, 'source' | 'target'>): string {
  return `${t.source} → ${t.target}`;
}

export function pairKey(t: Pick<TrafficTest, 'source' | 'target'>): string {
  return `${t.source}\u0000${t.target}`;
}

export function isActive(t: Pick<TrafficTest, 'state'> | undefined): boolean {
  return t !== undefined && (t.state === 'queued' || t.state === 'running');
}

/** The receiver's throughput: what arrived (the number a test is about). */
export function throughput(t: Pick<TrafficTest, 'result'>): number | null {
  return t.result?.received_bits_per_second ?? null;
}
