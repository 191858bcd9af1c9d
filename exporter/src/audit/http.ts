// HTTP adapter of the audit log: GET /api/v1/audit.
import { z } from 'zod';
import type { ApiRoutes } from '../http/routes.js';
import { Id, Page } from '../http/schema-kit.js';
import type { AuditLog } from './log.js';
import { AuditList } from './schemas.js';

export function registerAuditRoutes(api: ApiRoutes, audit: AuditLog): void {
  api.add({
    method: 'get',
    path: '/audit',
    scope: 'read',
    tag: 'audit',
    summary: 'Audit log, newest first',
    cost: 'list',
    query: z.strictObject({
      ...Page(),
      object_type: z.enum(['subnet', 'address', 'range', 'vm_job', 'proxmox_vm']).optional(),
      object_id: Id.optional(),
      actor: z.string().max(256).optional().meta({ description: 'token name or Grafana user' }),
      since: z.iso.datetime({ offset: true }).optional().meta({ description: 'RFC 3339; entries at or after it' }),
    }),
    responses: { 200: { description: 'Entries', schema: AuditList } },
    handler: async ({ query }) => ({
      status: 200,
      // Stored times are ISO strings in UTC with milliseconds; compare like with like.
      body: await audit.list(
        { ...query, since: query.since && new Date(query.since).toISOString() },
        query.limit,
        query.offset,
      ),
    }),
  });
}
