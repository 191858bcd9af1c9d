// TLS to Proxmox VE, verified per connection (shared/tls.ts): a CA file, or a pinned fingerprint
// (PVE's default certificate is signed by the cluster's own CA, which no system trusts; the pin
// is the SHA-256 of the node certificate, as PVE shows it), or the system's CAs (a PVE with an
// ACME certificate). Here: the words for what goes wrong, with what to do about it.
import type { Agent, AgentOptions } from 'node:https';
import { type TlsSettings, tlsAgent } from '../shared/tls.js';

export type { TlsSettings } from '../shared/tls.js';

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

export function createTlsAgent(settings: TlsSettings, maxSockets: number): Agent {
  const base: AgentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: 60_000 };
  return tlsAgent(
    settings,
    base,
    (seen, pin) =>
      new ProxmoxTlsError(
        `the Proxmox server's certificate has SHA-256 fingerprint ${seen || '(none)'}, not the pinned ` +
          `LANSCAPE_PROXMOX_FINGERPRINT ${pin}; refusing to connect (a changed certificate or another server)`,
        'FINGERPRINT_MISMATCH',
      ),
  );
}
