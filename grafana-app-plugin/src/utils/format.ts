// Formatting of times, counts, ratios and latencies shown across the pages.

const UNITS: Array<[number, string]> = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'm'],
  [1_000, 's'],
];

/** "12m", "3h", "2d" for a duration in milliseconds (largest unit, rounded down). */
export function shortDuration(ms: number): string {
  const abs = Math.max(0, ms);
  for (const [size, unit] of UNITS) {
    if (abs >= size) {
      return `${Math.floor(abs / size)}${unit}`;
    }
  }
  return '0s';
}

/** "12m ago", "just now", or "never" for an ISO timestamp. */
export function timeAgo(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) {
    return 'never';
  }
  const t = Date.parse(iso);
  if (Number.isNaN(t)) {
    return iso;
  }
  const diff = now - t;
  if (diff < 5_000) {
    return 'just now';
  }
  return `${shortDuration(diff)} ago`;
}

/** Counts with thousands separators; very large (IPv6) sizes in compact exponent form. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) {
    return String(n);
  }
  if (Math.abs(n) >= 1e15) {
    return n.toExponential(2).replace('e+', 'e');
  }
  return Math.round(n).toLocaleString('en-US');
}

/** 0.4567 → "45.7 %"; null → "–". */
export function formatPercent(ratio: number | null | undefined, digits = 1): string {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) {
    return '–';
  }
  return `${Number((ratio * 100).toFixed(digits))} %`;
}

/** Round-trip time in seconds → "0.42 ms", "12 ms", "1.2 s". */
export function formatRtt(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return '–';
  }
  const ms = seconds * 1000;
  if (ms >= 1000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  if (ms >= 10) {
    return `${Math.round(ms)} ms`;
  }
  return `${ms.toFixed(ms >= 1 ? 1 : 2)} ms`;
}

/** A local date and time for tooltips and lists. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) {
    return '–';
  }
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
