// Response schemas of the Docker API. The routes (http.ts) declare them, the OpenAPI document is
// generated from them, and the service's view types are inferred from them (z.infer).
import { z } from 'zod';
import { Timestamp } from '../http/schema-kit.js';
import { IMAGE_STATUSES } from './core/image-update.js';
import { CONTAINER_STATES, HEALTH_STATUSES } from './core/model.js';

const NullableTimestamp = Timestamp.nullable();

export const Endpoint = z
  .object({
    name: z.string(),
    url: z
      .string()
      .meta({ description: 'unix://, tcp:// or http:// address of the engine (TLS files are never shown)' }),
    up: z.boolean(),
    version: z.string().nullable().meta({ description: 'Docker Engine version, once connected' }),
    api_version: z.string().nullable(),
    last_error: z.string().nullable().meta({ description: 'why the endpoint is down; null while it is up' }),
    last_sync_at: NullableTimestamp.meta({ description: 'last full listing' }),
    images_checked_at: NullableTimestamp.meta({
      description:
        'last image update pass that got an answer for every image it checks; null before the first one or with update checks off',
    }),
    containers: z.number().int(),
    running: z.number().int(),
    networks: z.number().int(),
  })
  .meta({ id: 'DockerEndpoint' });

export const Container = z
  .object({
    endpoint: z.string(),
    id: z.string(),
    name: z.string(),
    image: z.string(),
    state: z.enum(CONTAINER_STATES),
    health: z.enum(HEALTH_STATUSES),
    restart_count: z.number().int(),
    exit_code: z.number().int().nullable(),
    started_at: NullableTimestamp,
    finished_at: NullableTimestamp,
    created_at: NullableTimestamp,
    compose_project: z.string().nullable(),
    compose_service: z.string().nullable(),
    cpu_seconds: z.number().nullable().meta({
      description: 'CPU time used, from the last background sample; null when not running or not sampled yet',
    }),
    memory_bytes: z.number().nullable().meta({ description: 'memory working set from the last background sample' }),
    image_update: z
      .object({
        status: z.enum(IMAGE_STATUSES).meta({
          description:
            'update_available: the registry serves another build under the tag; pinned (created from name@sha256:…) and local (never pushed or pulled) are not checkable; unknown until a registry answered',
        }),
        checked_at: NullableTimestamp.meta({ description: 'when the registry last answered for this image' }),
        registry_digest: z.string().nullable().meta({ description: 'the digest the registry serves for the tag' }),
        error: z.string().nullable().meta({ description: 'why the last lookup failed (the result above is kept)' }),
      })
      .nullable()
      .meta({
        description:
          'image update check of a running container; null when not running, not checked yet or checks are off',
      }),
    networks: z.array(
      z.object({
        network: z.string(),
        mac: z.string().nullable(),
        addresses: z.array(
          z.object({
            address: z.string(),
            live: z
              .boolean()
              .meta({ description: 'held now (false: fixed in the config or last recorded, container not running)' }),
            address_id: z
              .number()
              .int()
              .nullable()
              .meta({ description: 'the IPAM address at this IP (GET /api/v1/addresses/{id}), whatever its source' }),
            source: z
              .string()
              .nullable()
              .meta({ description: 'source of that IPAM address: docker when recorded from Docker' }),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'DockerContainer' });

export const Network = z
  .object({
    endpoint: z.string(),
    id: z.string(),
    name: z.string(),
    driver: z.string(),
    scope: z.string(),
    internal: z.boolean(),
    containers: z.number().int(),
    subnets: z.array(
      z.object({
        cidr: z.string(),
        gateway: z.string().nullable(),
        ip_range: z.string().nullable(),
        subnet_id: z.number().int().nullable().meta({ description: 'the IPAM subnet with this CIDR, if any' }),
        managed: z
          .boolean()
          .meta({ description: 'that subnet is managed by a person (an overlap), not created for a Docker network' }),
      }),
    ),
  })
  .meta({ id: 'DockerNetwork' });

export const Conflict = z
  .object({
    kind: z.literal('network_overlap'),
    endpoint: z.string(),
    network: z.string(),
    cidr: z.string().meta({ description: 'the Docker pool' }),
    subnet_id: z.number().int(),
    subnet: z.string().meta({ description: 'the managed subnet it overlaps' }),
    relation: z.enum(['same', 'inside', 'contains']),
    message: z.string(),
  })
  .meta({ id: 'DockerConflict' });

export type EndpointView = z.infer<typeof Endpoint>;
export type ContainerView = z.infer<typeof Container>;
export type NetworkView = z.infer<typeof Network>;
export type ConflictView = z.infer<typeof Conflict>;
