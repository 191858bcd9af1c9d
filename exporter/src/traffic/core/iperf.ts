// Reading iperf3's JSON (-J). TCP throughput and retransmits come from end.sum_sent and
// end.sum_received. UDP receiver statistics (jitter, loss) are in end.sum_received in iperf3
// 3.10 and later; older versions only have end.sum, which then holds the receiver's numbers.
// A top-level "error" means the test failed, whatever else the document holds.

export interface TrafficResult {
  sent_bits_per_second: number;
  received_bits_per_second: number;
  retransmits: number | null;
  jitter_seconds: number | null;
  lost_packets: number | null;
  packets: number | null;
  loss_ratio: number | null;
  /** the measured interval as iperf3 reports it */
  seconds: number;
}

export type IperfOutcome = { ok: true; result: TrafficResult } | { ok: false; error: string; busy: boolean };

const BUSY_RE = /server is busy running a test/i;

export function isBusyError(message: string): boolean {
  return BUSY_RE.test(message);
}

type Sum = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Sum | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Sum) : null);

export function parseIperfJson(text: string, protocol: 'tcp' | 'udp'): IperfOutcome {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, error: 'iperf3 did not print a JSON report', busy: false };
  }
  const root = obj(doc);
  if (!root) return { ok: false, error: 'the iperf3 report is not a JSON object', busy: false };
  if (typeof root.error === 'string' && root.error !== '') {
    const error = cleanMessage(root.error);
    return { ok: false, error: `iperf3: ${error}`, busy: isBusyError(error) };
  }
  const end = obj(root.end);
  if (!end) return { ok: false, error: 'the iperf3 report has no end section', busy: false };
  const sent = obj(end.sum_sent);
  const received = obj(end.sum_received);
  const legacy = obj(end.sum);
  if (protocol === 'tcp') {
    const sentBps = num(sent?.bits_per_second);
    const receivedBps = num(received?.bits_per_second);
    if (sentBps === null || receivedBps === null)
      return { ok: false, error: 'the iperf3 report has no TCP sums', busy: false };
    return {
      ok: true,
      result: {
        sent_bits_per_second: sentBps,
        received_bits_per_second: receivedBps,
        retransmits: num(sent?.retransmits),
        jitter_seconds: null,
        lost_packets: null,
        packets: null,
        loss_ratio: null,
        seconds: num(received?.seconds) ?? num(sent?.seconds) ?? 0,
      },
    };
  }
  // UDP: prefer the receiver's own sum; fall back to end.sum of older iperf3.
  const rx = received && num(received.jitter_ms) !== null ? received : legacy;
  if (!rx) return { ok: false, error: 'the iperf3 report has no UDP sums', busy: false };
  const sentBps = num(sent?.bits_per_second) ?? num(legacy?.bits_per_second);
  const receivedBps = num(rx.bits_per_second);
  if (sentBps === null || receivedBps === null)
    return { ok: false, error: 'the iperf3 report has no UDP throughput', busy: false };
  const jitterMs = num(rx.jitter_ms);
  const lost = num(rx.lost_packets);
  const packets = num(rx.packets);
  let loss: number | null = null;
  if (lost !== null && packets !== null && packets > 0) loss = Math.min(1, Math.max(0, lost / packets));
  else if (num(rx.lost_percent) !== null) loss = Math.min(1, Math.max(0, num(rx.lost_percent)! / 100));
  return {
    ok: true,
    result: {
      sent_bits_per_second: sentBps,
      received_bits_per_second: receivedBps,
      retransmits: null,
      jitter_seconds: jitterMs === null ? null : jitterMs / 1000,
      lost_packets: lost,
      packets,
      loss_ratio: loss,
      seconds: num(rx.seconds) ?? 0,
    },
  };
}

/** A message from a remote program, safe to store and show: one line, printable, bounded. */
export function cleanMessage(text: string, max = 300): string {
  const one = text
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return one.length > max ? `${one.slice(0, max - 3)}...` : one;
}
