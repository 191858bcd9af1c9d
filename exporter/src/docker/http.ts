// HTTP adapter of the Docker domain: endpoints, containers (with their IPAM address ids),
// networks (with their IPAM subnet ids) and network overlaps. Read scope; nothing here
// changes an engine.
import { z } from 'zod';
import type { ApiRoutes } from '../http/routes.js';
import { Page, listOf, listed } from '../ipam/schemas.js';
import { ENDPOINT_NAME_RE } from './core/endpoints.js';
import { CONTAINER_STATES, HEALTH_STATUSES } from './core/model.js';
import type { DockerService } from './service.js';

const Timestamp = z.string().nullable().meta({ description: 'RFC 3339 timestamp' });

const Endpoint = z.object({
  name: z.string(),
  url: z.string().meta({ description: 'unix://, tcp:// or http:// address of the engine (TLS files are never shown)' }),
  up: z.boolean(),
  version: z.string().nullable().meta({ description: 'Docker Engine version, once connected' }),
  api_version: z.string().nullable(),
  last_error: z.string().nullable().meta({ description: 'why the endpoint is down; null while it is up' }),
  last_sync_at: Timestamp.meta({ description: 'last full listing' }),
  containers: z.number().int(),
  running: z.number().int(),
  networks: z.number().int(),
}).meta({ id: 'DockerEndpoint' });

const Container = z.object({
  endpoint: z.string(),
  id: z.string(),
  name: z.string(),
  image: z.string(),
  state: z.enum(CONTAINER_STATES),
  health: z.enum(HEALTH_STATUSES),
  restart_count: z.number().int(),
  exit_code: z.number().int().nullable(),
  started_at: Timestamp,
  finished_at: Timestamp,
  created_at: Timestamp,
  compose_project: z.string().nullable(),
  compose_service: z.string().nullable(),
  cpu_seconds: z.number().nullable().meta({ description: 'CPU time used, from the last background sample; null when not running or not sampled yet' }),
  memory_bytes: z.number().nullable().meta({ description: 'memory working set from the last background sample' }),
  networks: z.array(z.object({
    network: z.string(),
    mac: z.string().nullable(),
    addresses: z.array(z.object({
      address: z.string(),
      live: z.boolean().meta({ description: 'held now (false: fixed in the config or last recorded, container not running)' }),
      address_id: z.number().int().nullable().meta({ description: 'the IPAM address at this IP (GET /api/v1/addresses/{id}), whatever its source' }),
      source: z.string().nullable().meta({ description: 'source of that IPAM address: docker when recorded from Docker' }),
    })),
  })),
}).meta({ id: 'DockerContainer' });

const Network = z.object({
  endpoint: z.string(),
  id: z.string(),
  name: z.string(),
  driver: z.string(),
  scope: z.string(),
  internal: z.boolean(),
  containers: z.number().int(),
  subnets: z.array(z.object({
    cidr: z.string(),
    gateway: z.string().nullable(),
    ip_range: z.string().nullable(),
    subnet_id: z.number().int().nullable().meta({ description: 'the IPAM subnet with this CIDR, if any' }),
    managed: z.boolean().meta({ description: 'that subnet is managed by a person (an overlap), not created for a Docker network' }),
  })),
}).meta({ id: 'DockerNetwork' });

const Conflict = z.object({
  kind: z.literal('network_overlap'),
  endpoint: z.string(),
  network: z.string(),
  cidr: z.string().meta({ description: 'the Docker pool' }),
  subnet_id: z.number().int(),
  subnet: z.string().meta({ description: 'the managed subnet it overlaps' }),
  relation: z.enum(['same', 'inside', 'contains']),
  message: z.string(),
}).meta({ id: 'DockerConflict' });

const EndpointQuery = z.string().regex(ENDPOINT_NAME_RE, 'an endpoint name').optional()
  .meta({ description: 'only this endpoint (404 when it is not configured)' });

const page = <T>(items: T[], limit: number, offset: number) => ({ count: items.length, results: items.slice(offset, offset + limit) });

export function registerDockerRoutes(api: ApiRoutes, docker: DockerService): void {
  api.add({
    method: 'get', path: '/docker/endpoints', scope: 'read', tag: 'docker', summary: 'Docker endpoints and their connection state',
    responses: { 200: { description: 'Endpoints', schema: listOf(Endpoint, 'DockerEndpointList') } },
    handler: () => ({ status: 200, body: listed(docker.endpointViews()) }),
  });
  api.add({
    method: 'get', path: '/docker/containers', scope: 'read', tag: 'docker', summary: 'Containers of every endpoint, with their IPAM addresses',
    description: 'From the last listing and events; while an endpoint is down its last known containers are returned.',
    query: z.strictObject({ ...Page(), endpoint: EndpointQuery }),
    responses: { 200: { description: 'Containers', schema: listOf(Container, 'DockerContainerList') }, 404: { description: 'No such endpoint' } },
    handler: ({ query }) => ({ status: 200, body: page(docker.containerViews(query.endpoint), query.limit, query.offset) }),
  });
  api.add({
    method: 'get', path: '/docker/networks', scope: 'read', tag: 'docker', summary: 'Docker networks with their pools and IPAM subnets',
    query: z.strictObject({ ...Page(), endpoint: EndpointQuery }),
    responses: { 200: { description: 'Networks', schema: listOf(Network, 'DockerNetworkList') }, 404: { description: 'No such endpoint' } },
    handler: ({ query }) => ({ status: 200, body: page(docker.networkViews(query.endpoint), query.limit, query.offset) }),
  });
  api.add({
    method: 'get', path: '/docker/conflicts', scope: 'read', tag: 'docker', summary: 'Docker networks overlapping managed subnets',
    description: 'A Docker pool equal to, inside or covering a subnet a person manages in IPAM: containers there take addresses IPAM may hand out, and routes to that subnet break on the Docker host.',
    responses: { 200: { description: 'Overlaps', schema: listOf(Conflict, 'DockerConflictList') } },
    handler: () => ({ status: 200, body: listed(docker.conflicts()) }),
  });
}
