// A tiny authoritative DNS server for tests: UDP on 127.0.0.1, port chosen by the OS. It answers
// PTR queries for the in-addr.arpa / ip6.arpa names of the given addresses and NXDOMAIN for
// everything else. Answers carry TTL 0 so c-ares' own query cache never hides a query from the
// server's count. Never point it at, or forward to, any real resolver.
import dgram from 'node:dgram';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';
import ipaddr from 'ipaddr.js';

export type PtrRecords = Record<string /* ip */, string | string[] /* PTR names */>;

export interface DnsServerOptions {
  /** Delay every answer by this many ms. */
  delayMs?: number;
  /** Answer every query with SERVFAIL. */
  servfail?: boolean;
}

export interface TestDnsServer {
  /** '127.0.0.1:PORT', suitable for ReverseDnsOptions.servers. */
  readonly address: string;
  /** Number of queries received. */
  readonly queries: number;
  /** Queries received but not yet answered. */
  readonly inFlight: number;
  /** Highest value inFlight reached. */
  readonly maxInFlight: number;
  /** Names asked for, in arrival order. */
  readonly questions: readonly string[];
  setRecords(records: PtrRecords): void;
  setOptions(opts: DnsServerOptions): void;
  close(): Promise<void>;
}

/** The reverse-lookup name of an IP address, e.g. 1.2.0.192.in-addr.arpa. */
export function reverseName(ip: string): string {
  const addr = ipaddr.parse(ip);
  const bytes = addr.toByteArray();
  if (addr.kind() === 'ipv4') return `${bytes.reverse().join('.')}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (const b of bytes) nibbles.push((b >> 4).toString(16), (b & 0xf).toString(16));
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

function buildZone(records: PtrRecords): Map<string, string[]> {
  const zone = new Map<string, string[]>();
  for (const [ip, names] of Object.entries(records)) {
    zone.set(reverseName(ip), Array.isArray(names) ? names : [names]);
  }
  return zone;
}

const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

export async function startDnsServer(records: PtrRecords, opts: DnsServerOptions = {}): Promise<TestDnsServer> {
  let zone = buildZone(records);
  let options: DnsServerOptions = { ...opts };
  let queries = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const questions: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const socket = dgram.createSocket('udp4');

  function respond(query: dnsPacket.DecodedPacket, rinfo: dgram.RemoteInfo): void {
    const question = query.questions?.[0];
    const qname = question?.name.toLowerCase() ?? '';
    const names = question?.type === 'PTR' ? zone.get(qname) : undefined;
    let flags = dnsPacket.AUTHORITATIVE_ANSWER;
    if (query.flag_rd) flags |= dnsPacket.RECURSION_DESIRED;
    const answers: dnsPacket.Answer[] = [];
    if (options.servfail) {
      flags |= RCODE_SERVFAIL;
    } else if (names && names.length > 0) {
      for (const data of names) answers.push({ type: 'PTR', class: 'IN', name: question?.name ?? qname, ttl: 0, data });
    } else if (!zone.has(qname)) {
      flags |= RCODE_NXDOMAIN;
    } // else: the name exists with no PTR data → NOERROR, no answers (NODATA)
    const reply = dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags,
      questions: query.questions ?? [],
      answers,
    });
    if (!closed) socket.send(reply, rinfo.port, rinfo.address);
  }

  socket.on('message', (msg, rinfo) => {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return; // not DNS; ignore
    }
    if (query.type !== 'query') return;
    queries++;
    questions.push(query.questions?.[0]?.name ?? '');
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const finish = (): void => {
      inFlight--;
      respond(query, rinfo);
    };
    const delay = options.delayMs ?? 0;
    if (delay > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        finish();
      }, delay);
      timers.add(timer);
    } else {
      finish();
    }
  });

  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();

  return {
    address: `127.0.0.1:${port}`,
    get queries() {
      return queries;
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get questions() {
      return questions;
    },
    setRecords(next: PtrRecords) {
      zone = buildZone(next);
    },
    setOptions(next: DnsServerOptions) {
      options = { ...next };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
