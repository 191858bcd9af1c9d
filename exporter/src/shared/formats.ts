// Formats both the configuration schema (config/schema.ts) and the domains check: SSH host
// names and fingerprints, Docker endpoint names and URLs, Proxmox token ids and fingerprints.
// They live here so config/ imports no domain module; the domain cores re-export what they use.
// Its one dependency is the pure IP parser (ipam/core/ip.ts) for IP literals.
import { IpFormatError, formatIp, parseIp } from '../ipam/core/ip.js';

// ------------------------------------------------------------------ SSH (traffic tests)
/** SHA256:<base64 without padding>, the way `ssh-keygen -l` and `ssh` print a host key's fingerprint. */
export const SSH_FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/** A configured host's address may be a DNS name; API targets must be IP literals. */
export const HOSTNAME_RE = /^(?!-)[a-zA-Z0-9.-]{1,253}$/;

/** The address in canonical form when it is an IP literal, else null. */
export function ipLiteral(text: string): string | null {
  try {
    return formatIp(parseIp(text));
  } catch (e) {
    if (e instanceof IpFormatError) return null;
    throw e;
  }
}

/** An IP literal or a host name that cannot be taken for an option or shell syntax. */
export function isHostAddress(text: string): boolean {
  return ipLiteral(text) !== null || HOSTNAME_RE.test(text);
}

// ------------------------------------------------------------------ Docker endpoints
// `name=url` pairs (LANSCAPE_DOCKER_HOSTS) and the three URL forms the exporter accepts.

export const ENDPOINT_NAME_RE = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * unix:///path — a local socket; tcp://host:port — the Docker API over TLS (client certificate);
 * http://host:port — plaintext, for a socket proxy on a private network. Plaintext must be
 * asked for by scheme: tcp:// without TLS files is refused, because the Docker API is root on
 * that host for whoever can reach the port.
 */
export type EndpointTarget = { kind: 'unix'; path: string } | { kind: 'tcp' | 'http'; host: string; port: number };

const HOST_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])$/;

/** Parses an endpoint URL; returns an error message (for the config error) when it is not one. */
export function parseEndpointUrl(text: string): EndpointTarget | string {
  const unix = /^unix:\/\/(\/[^\0]*)$/.exec(text);
  if (unix) {
    const path = unix[1]!;
    if (path.length > 107 || path.endsWith('/'))
      return `"${text}": expected unix:///absolute/path.sock (at most 107 characters)`;
    return { kind: 'unix', path };
  }
  const net = /^(tcp|http):\/\/([^/?#@]+?)(?::(\d{1,5}))?\/?$/.exec(text);
  if (!net) {
    if (/^[a-z]+:\/\/[^/]*@/.test(text)) return 'credentials in the URL are not supported; use TLS client certificates';
    return `"${text}": expected unix:///path/docker.sock, tcp://host:2376 (TLS) or http://host:2375 (plaintext socket proxy)`;
  }
  const [, scheme, host, portText] = net;
  if (!HOST_RE.test(host!)) return `"${text}": "${host}" is not a host name or IP address`;
  const port = portText === undefined ? (scheme === 'tcp' ? 2376 : 2375) : Number(portText);
  if (port < 1 || port > 65535) return `"${text}": the port is 1–65535`;
  return { kind: scheme as 'tcp' | 'http', host: host!.replace(/^\[|\]$/g, ''), port };
}

/** "local=unix:///var/run/docker.sock,nas=tcp://nas:2376" → pairs, or the first problem found. */
export function parseHostList(text: string): { name: string; url: string }[] | string {
  const out: { name: string; url: string }[] = [];
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) return `"${part}" is not name=url (e.g. local=unix:///var/run/docker.sock)`;
    const name = part.slice(0, eq).trim();
    const url = part.slice(eq + 1).trim();
    if (!ENDPOINT_NAME_RE.test(name))
      return `"${name}" is not an endpoint name: lower-case letters, digits, _ and -, starting with a letter, at most 32`;
    if (out.some((o) => o.name === name)) return `endpoint name "${name}" is used twice`;
    out.push({ name, url });
  }
  return out;
}

// ------------------------------------------------------------------ Proxmox VE
/** `user@realm!tokenid`, as PVE shows it when the token is created. */
export const PVE_TOKEN_ID_RE = /^[A-Za-z0-9._-]{1,64}@[A-Za-z0-9._-]{1,32}![A-Za-z][A-Za-z0-9._-]{0,63}$/;
/** SHA-256 fingerprint as PVE shows it (AA:BB:…, 32 bytes); either case. */
export const PVE_FINGERPRINT_RE = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31}$/;
