// HTTP adapter of the Docker domain: endpoints, containers (with their IPAM address ids),
// networks (with their IPAM subnet ids) and network overlaps. Read scope; nothing here
// changes an engine.
import { z } from 'zod';
import type { ApiRoutes } from '../http/routes.js';
import { Page, listOf, listed } from '../http/schema-kit.js';
import { ENDPOINT_NAME_RE } from './core/endpoints.js';
import { Conflict, Container, Endpoint, Network } from './schemas.js';
import type { DockerService } from './service.js';

const EndpointQuery = z
  .string()
  .regex(ENDPOINT_NAME_RE, 'an endpoint name')
  .optional()
  .meta({ description: 'only this endpoint (404 when it is not configured)' });

const page = <T>(items: T[], limit: number, offset: number) => ({
  count: items.length,
  results: items.slice(offset, offset + limit),
});

export function registerDockerRoutes(api: ApiRoutes, docker: DockerService): void {
  api.add({
    method: 'get',
    path: '/docker/endpoints',
    scope: 'read',
    tag: 'docker',
    summary: 'Docker endpoints and their connection state',
    responses: { 200: { description: 'Endpoints', schema: listOf(Endpoint, 'DockerEndpointList') } },
    handler: async () => ({ status: 200, body: listed(await docker.endpointViews()) }),
  });
  api.add({
    method: 'get',
    path: '/docker/containers',
    scope: 'read',
    tag: 'docker',
    summary: 'Containers of every endpoint, with their IPAM addresses',
    description: 'From the last listing and events; while an endpoint is down its last known containers are returned.',
    query: z.strictObject({ ...Page(), endpoint: EndpointQuery }),
    responses: {
      200: { description: 'Containers', schema: listOf(Container, 'DockerContainerList') },
      404: { description: 'No such endpoint' },
    },
    handler: async ({ query }) => ({
      status: 200,
      body: page(await docker.containerViews(query.endpoint), query.limit, query.offset),
    }),
  });
  api.add({
    method: 'get',
    path: '/docker/networks',
    scope: 'read',
    tag: 'docker',
    summary: 'Docker networks with their pools and IPAM subnets',
    query: z.strictObject({ ...Page(), endpoint: EndpointQuery }),
    responses: {
      200: { description: 'Networks', schema: listOf(Network, 'DockerNetworkList') },
      404: { description: 'No such endpoint' },
    },
    handler: async ({ query }) => ({
      status: 200,
      body: page(await docker.networkViews(query.endpoint), query.limit, query.offset),
    }),
  });
  api.add({
    method: 'get',
    path: '/docker/conflicts',
    scope: 'read',
    tag: 'docker',
    summary: 'Docker networks overlapping managed subnets',
    description:
      'A Docker pool equal to, inside or covering a subnet a person manages in IPAM: containers there take addresses IPAM may hand out, and routes to that subnet break on the Docker host.',
    responses: { 200: { description: 'Overlaps', schema: listOf(Conflict, 'DockerConflictList') } },
    handler: async () => ({ status: 200, body: listed(await docker.conflicts()) }),
  });
}
