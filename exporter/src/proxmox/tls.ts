// TLS to Proxmox VE, verified per connection (never process-wide):
// - CA file: normal chain and host name verification against that CA only.
// - Pinned fingerprint: PVE's default certificate is signed by the cluster's own CA, which no
//   system trusts; the pin (SHA-256 of the node certificate, as PVE shows it) replaces the
//   chain check for this one agent. The socket is handed to the HTTP request only after the
//   pin matched, so not a byte of the request (the token header) goes to another server.
// - Neither: the system's CAs with full verification (a PVE with an ACME certificate).
import { readFileSync } from 'node:fs';
import { Agent, type AgentOptions, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, type TLSSocket, connect } from 'node:tls';
import { normalizeFingerprint } from './core/formats.js';

export interface TlsSettings {
  fingerprint?: string | undefined;
  caFile?: string | undefined;
}

export class ProxmoxTlsError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ProxmoxTlsError';
  }
}

const HINT =
  'set LANSCAPE_PROXMOX_FINGERPRINT to the SHA-256 fingerprint of the PVE certificate ' +
  '(node → System → Certificates) or LANSCAPE_PROXMOX_CA_FILE to the cluster CA (/etc/pve/pve-root-ca.pem)';

/** Words for the TLS errors Node reports (codes from OpenSSL), with what to do about them. */
export function describeTlsError(e: NodeJS.ErrnoException, settings: TlsSettings): ProxmoxTlsError | undefined {
  const code = e.code ?? '';
  const untrusted = [
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'CERT_UNTRUSTED',
  ];
  if (untrusted.includes(code)) {
    return new ProxmoxTlsError(
      `the Proxmox server's certificate is not trusted (${code}: ${e.message})` +
        (settings.caFile ? `; it is not signed by the CA in ${settings.caFile}` : `; ${HINT}`),
      code,
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new ProxmoxTlsError(
      `the Proxmox server's certificate is not valid for this host name (${e.message}); ` +
        'use the name the certificate was issued for in LANSCAPE_PROXMOX_URL, or pin LANSCAPE_PROXMOX_FINGERPRINT',
      code,
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new ProxmoxTlsError(`the Proxmox server's certificate is out of its validity period (${code})`, code);
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO') {
    return new ProxmoxTlsError(`TLS handshake with the Proxmox server failed (${code}: ${e.message})`, code);
  }
  return undefined;
}

/** An agent that accepts a server only when its certificate's SHA-256 fingerprint is the pinned one. */
class PinnedAgent extends Agent {
  private readonly pin: string;

  constructor(pin: string, options: AgentOptions) {
    // No TLS session cache: every connection shows its certificate and is checked again.
    super({ ...options, maxCachedSessions: 0 });
    this.pin = normalizeFingerprint(pin);
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
        const err = new ProxmoxTlsError(
          `the Proxmox server's certificate has SHA-256 fingerprint ${seen || '(none)'}, not the pinned ` +
            `LANSCAPE_PROXMOX_FINGERPRINT ${this.pin}; refusing to connect (a changed certificate or another server)`,
          'FINGERPRINT_MISMATCH',
        );
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

export function createTlsAgent(settings: TlsSettings, maxSockets: number): Agent {
  const base: AgentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: 60_000 };
  if (settings.fingerprint) return new PinnedAgent(settings.fingerprint, base);
  if (settings.caFile) return new Agent({ ...base, ca: readFileSync(settings.caFile), rejectUnauthorized: true });
  return new Agent({ ...base, rejectUnauthorized: true });
}
