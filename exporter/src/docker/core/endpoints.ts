// Docker endpoints as the configuration names them: `name=url` pairs (LANSCAPE_DOCKER_HOSTS)
// and the three URL forms the exporter accepts. Pure: the config schema and the client use it.

export const ENDPOINT_NAME_RE = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * unix:///path — a local socket; tcp://host:port — the Docker API over TLS (client certificate);
 * http://host:port — plaintext, for a socket proxy on a private network. Plaintext must be
 * asked for by scheme: tcp:// without TLS files is refused, because the Docker API is root on
 * that host for whoever can reach the port.
 */
export type EndpointTarget =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp' | 'http'; host: string; port: number };

const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])$/;

/** Parses an endpoint URL; returns an error message (for the config error) when it is not one. */
export function parseEndpointUrl(text: string): EndpointTarget | string {
  const unix = /^unix:\/\/(\/[^\0]*)$/.exec(text);
  if (unix) {
    const path = unix[1]!;
    if (path.length > 107 || path.endsWith('/')) return `"${text}": expected unix:///absolute/path.sock (at most 107 characters)`;
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
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) return `"${part}" is not name=url (e.g. local=unix:///var/run/docker.sock)`;
    const name = part.slice(0, eq).trim();
    const url = part.slice(eq + 1).trim();
    if (!ENDPOINT_NAME_RE.test(name)) return `"${name}" is not an endpoint name: lower-case letters, digits, _ and -, starting with a letter, at most 32`;
    if (out.some((o) => o.name === name)) return `endpoint name "${name}" is used twice`;
    out.push({ name, url });
  }
  return out;
}

/** The URL as shown by the API and logs: it never carries secrets (those are files). */
export function showTarget(t: EndpointTarget): string {
  if (t.kind === 'unix') return `unix://${t.path}`;
  return `${t.kind}://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}
