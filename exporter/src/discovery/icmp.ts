// Raw ICMP echo sockets over raw-socket (the native addon net-ping is built on), driven directly:
// requests leave with a synchronous sendto() as the sweep engine paces them (no per-request
// timers, no queue of callbacks), and replies are handed over with their source address,
// identifier and sequence, so the engine matches each reply to the target it came from.
import { createRequire } from 'node:module';
import { isIPv4, isIPv6 } from 'node:net';
import type { EchoSocket } from './core/sweep.js';

interface RawWrap {
  send(buffer: Buffer, offset: number, length: number, address: string, cb: (bytes: number) => void): void;
}
interface RawSocket {
  wrap: RawWrap;
  setOption(level: number, option: number, value: number): void;
  on(event: 'message', cb: (buffer: Buffer, source: string) => void): void;
  on(event: 'error', cb: (e: Error) => void): void;
  resumeRecv(): void;
  close(): void;
}
interface RawSocketModule {
  createSocket(opts: { protocol: number; addressFamily: number }): RawSocket;
  createChecksum(buffer: Buffer): number;
  writeChecksum(buffer: Buffer, offset: number, checksum: number): void;
  AddressFamily: { IPv4: number; IPv6: number };
  Protocol: { ICMP: number; ICMPv6: number };
  SocketLevel: { SOL_SOCKET: number };
  SocketOption: { SO_SNDBUF: number };
}

// raw-socket is CommonJS with a native addon and no types.
const require = createRequire(import.meta.url);
const raw = require('raw-socket') as RawSocketModule;

/** Linux's SO_SNDBUFFORCE: like SO_SNDBUF but past net.core.wmem_max (needs CAP_NET_ADMIN). */
const SO_SNDBUFFORCE = 32;
const SEND_BUFFER_BYTES = 8 * 1024 * 1024;
/** ICMP header (8 bytes) and 8 bytes of zeros, as ping's smallest requests. */
const PACKET_BYTES = 16;

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

function openRaw(family: 4 | 6): RawSocket {
  const socket = raw.createSocket({
    protocol: family === 6 ? raw.Protocol.ICMPv6 : raw.Protocol.ICMP,
    addressFamily: family === 6 ? raw.AddressFamily.IPv6 : raw.AddressFamily.IPv4,
  });
  // The socket is opened lazily by raw-socket; an option opens it now, so a missing privilege shows here.
  socket.setOption(raw.SocketLevel.SOL_SOCKET, raw.SocketOption.SO_SNDBUF, 256 * 1024);
  return socket;
}

/** Whether this process may open raw ICMP sockets; says how to grant it when not. */
export function probeIcmp(): IcmpStatus {
  try {
    openRaw(4).close();
    return { up: true };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const denied = /not permitted|EPERM|EACCES/i.test(err.message);
    return { up: false, message: denied ? NO_RAW_SOCKET_HELP : `cannot open a raw ICMP socket: ${err.message}` };
  }
}

export interface ClosableEchoSocket extends EchoSocket {
  close(): void;
}

/** The kernel's send buffer is full (or its queue): not sent, worth trying again shortly. */
const BUSY = /temporarily unavailable|no buffer space|would block/i;

/**
 * An echo socket of one family with its own random ICMP identifier (replies to other sockets'
 * requests, and everything but echo replies, are dropped here).
 * @param id the ICMP identifier (tests); default random 1..65535
 */
export function openEchoSocket(family: 4 | 6, id = 1 + Math.floor(Math.random() * 65535)): ClosableEchoSocket {
  const socket = openRaw(family);
  enlargeSendBuffer(socket);
  const packet = Buffer.alloc(PACKET_BYTES);
  packet[0] = family === 6 ? 128 : 8; // echo request
  packet.writeUInt16BE(id, 4);
  const replyType = family === 6 ? 129 : 0;
  let listener: (source: string, id: number, seq: number) => void = () => {};
  socket.on('error', () => {
    /* a failed recv: the sweep counts the target silent */
  });
  socket.on('message', (buffer, source) => {
    // IPv4 raw sockets hand over the IP header too; IPv6 ones start at the ICMPv6 header.
    let offset = 0;
    if (family === 4) {
      if (buffer.length < 20 || (buffer[0]! & 0xf0) !== 0x40) return;
      offset = (buffer[0]! & 0x0f) * 4;
    }
    if (buffer.length < offset + 8 || buffer[offset] !== replyType) return;
    listener(
      family === 6 && isIPv6(source) ? source.toLowerCase() : source,
      buffer.readUInt16BE(offset + 4),
      buffer.readUInt16BE(offset + 6),
    );
  });
  socket.resumeRecv();
  const ignore = () => {};
  // raw-socket parses the address itself and sends to 0.0.0.0 (this host) when it cannot.
  const valid = family === 6 ? isIPv6 : isIPv4;
  return {
    id,
    send(target, seq) {
      if (!valid(target)) return 'failed';
      packet.writeUInt16BE(seq, 6);
      if (family === 4) {
        packet.writeUInt16BE(0, 2);
        raw.writeChecksum(packet, 2, raw.createChecksum(packet));
      }
      try {
        socket.wrap.send(packet, 0, PACKET_BYTES, target, ignore);
        return 'sent';
      } catch (e) {
        return BUSY.test((e as Error).message) ? 'busy' : 'failed';
      }
    },
    listen(onReply) {
      listener = onReply;
    },
    close() {
      socket.close();
    },
  };
}
