// TLS to a server this process calls (Proxmox VE, an agent's central), verified per connection,
// never process-wide:
// - CA file: normal chain and host name verification against that CA only.
// - Pinned fingerprint: the pin (SHA-256 of the server's certificate) replaces the chain check
//   for this one agent. The socket is handed to the HTTP request only after the pin matched, so
//   not a byte of the request (a token header) goes to another server.
// - Neither: the system's CAs with full verification.
import { readFileSync } from 'node:fs';
import { Agent, type AgentOptions, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, type TLSSocket, connect } from 'node:tls';

export interface TlsSettings {
  fingerprint?: string | undefined;
  caFile?: string | undefined;
}

/** The error of a certificate whose fingerprint is not the pin (both upper-case hex with colons). */
export type PinMismatch = (seen: string, pin: string) => Error;

/** An agent that accepts a server only when its certificate's SHA-256 fingerprint is the pinned one. */
class PinnedAgent extends Agent {
  private readonly pin: string;

  constructor(
    pin: string,
    options: AgentOptions,
    private readonly mismatch: PinMismatch,
  ) {
    // No TLS session cache: every connection shows its certificate and is checked again.
    super({ ...options, maxCachedSessions: 0 });
    this.pin = pin.trim().toUpperCase();
  }

  override createConnection(
    options: RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    let done = false;
    const finish = (err: Error | null, socket: TLSSocket) => {
      if (done) return;
      done = true;
      callback?.(err, socket);
    };
    const socket = connect({
      ...(options as ConnectionOptions),
      // The chain check is replaced by the pin below, for this socket only.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      const seen = socket.getPeerCertificate()?.fingerprint256?.toUpperCase() ?? '';
      if (seen !== this.pin) {
        const err = this.mismatch(seen, this.pin);
        socket.destroy();
        finish(err, socket);
        return;
      }
      finish(null, socket);
    });
    socket.once('error', (e) => finish(e, socket));
    // The request gets the socket through the callback, after the check.
    return undefined;
  }
}

/** An HTTPS agent for `settings` (pinned, CA file, or the system's CAs). */
export function tlsAgent(settings: TlsSettings, base: AgentOptions, mismatch: PinMismatch): Agent {
  if (settings.fingerprint) return new PinnedAgent(settings.fingerprint, base, mismatch);
  if (settings.caFile) return new Agent({ ...base, ca: readFileSync(settings.caFile), rejectUnauthorized: true });
  return new Agent({ ...base, rejectUnauthorized: true });
}
