// Docker endpoints as the configuration names them: `name=url` pairs (LANSCAPE_DOCKER_HOSTS)
// and the three URL forms the exporter accepts. Pure. The parsing lives in shared/formats.ts,
// because the config schema checks it too; the Docker modules import it from here.
import type { EndpointTarget } from '../../shared/formats.js';

export { ENDPOINT_NAME_RE, type EndpointTarget, parseEndpointUrl, parseHostList } from '../../shared/formats.js';

/** The URL as shown by the API and logs: it never carries secrets (those are files). */
export function showTarget(t: EndpointTarget): string {
  if (t.kind === 'unix') return `unix://${t.path}`;
  return `${t.kind}://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}
