// net-ping adapter: one raw-socket session per sweep, retries left to the sweeper's pacer.
import { createRequire } from 'node:module';
import type { Pinger } from './core/sweep.js';

interface RawSocket {
  setOption(level: number, option: number, value: number): void;
}
interface NetPingSession {
  pingHost(target: string, cb: (error: Error | null, target: string) => void): void;
  close(): void;
  on(event: 'error', cb: (e: Error) => void): void;
  getSocket(): RawSocket;
}
interface RawSocketModule {
  SocketLevel: { SOL_SOCKET: number };
  SocketOption: { SO_SNDBUF: number };
}
interface NetPing {
  createSession(opts: {
    networkProtocol?: number;
    retries?: number;
    timeout?: number;
    sessionId?: number;
    packetSize?: number;
  }): NetPingSession;
  NetworkProtocol: { IPv4: number; IPv6: number };
}

// net-ping and raw-socket are CommonJS with a native addon and no types.
const require = createRequire(import.meta.url);
const netPing = require('net-ping') as NetPing;
const raw = require('raw-socket') as RawSocketModule;

/** Linux's SO_SNDBUFFORCE: like SO_SNDBUF but past net.core.wmem_max (needs CAP_NET_ADMIN). */
const SO_SNDBUFFORCE = 32;
const SEND_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * Echo requests to neighbours whose ARP is unresolved wait in the kernel, charged to the
 * socket's send buffer, until ARP gives up (about 3 s). With the default buffer a /24 of dead
 * LAN hosts fills it and every later send stalls behind them; a larger buffer keeps the sweep
 * paced. Without CAP_NET_ADMIN the kernel caps it at net.core.wmem_max.
 */
function enlargeSendBuffer(socket: RawSocket): void {
  for (const option of [SO_SNDBUFFORCE, raw.SocketOption.SO_SNDBUF]) {
    try {
      socket.setOption(raw.SocketLevel.SOL_SOCKET, option, SEND_BUFFER_BYTES);
      return;
    } catch {
      /* not permitted: try the capped option */
    }
  }
}

export interface IcmpStatus {
  up: boolean;
  message?: string;
}

export const NO_RAW_SOCKET_HELP =
  'raw ICMP sockets need CAP_NET_RAW: run the exporter as root, grant it with ' +
  '`setcap cap_net_raw+ep "$(readlink -f "$(command -v node)")"`, or add `cap_add: [NET_RAW]` in docker compose';

/** Whether this process may open raw ICMP sockets; says how to grant it when not. */
export function probeIcmp(): IcmpStatus {
  try {
    netPing.createSession({ retries: 0, timeout: 1000 }).close();
    return { up: true };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const denied = /not permitted|EPERM|EACCES/i.test(err.message);
    return { up: false, message: denied ? NO_RAW_SOCKET_HELP : `cannot open a raw ICMP socket: ${err.message}` };
  }
}

export interface ClosablePinger extends Pinger {
  close(): void;
}

/**
 * A Pinger over one net-ping session. The round trip is timed with the monotonic clock from
 * the hand-over to the session to the reply (net-ping's own times have millisecond resolution).
 */
export function createPinger(family: 4 | 6, timeoutMs: number): ClosablePinger {
  const session = netPing.createSession({
    networkProtocol: family === 6 ? netPing.NetworkProtocol.IPv6 : netPing.NetworkProtocol.IPv4,
    retries: 0,
    timeout: timeoutMs,
    // A distinct ICMP identifier per session keeps concurrent sweeps from taking each other's replies.
    sessionId: 1 + Math.floor(Math.random() * 65534),
  });
  session.on('error', () => {
    /* socket errors fail the pending requests through their callbacks */
  });
  enlargeSendBuffer(session.getSocket());
  return {
    ping(target, done) {
      const start = process.hrtime.bigint();
      session.pingHost(target, (error) => {
        done(error ? null : Number(process.hrtime.bigint() - start) / 1e9);
      });
    },
    close() {
      session.close();
    },
  };
}
