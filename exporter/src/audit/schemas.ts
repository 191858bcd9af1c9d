// Response schemas of the audit API. The route (http.ts) declares them, the OpenAPI document is
// generated from them, and the log's entry type is inferred from them (z.infer).
import { z } from 'zod';

export const AuditEntry = z
  .object({
    id: z.number().int(),
    at: z.string(),
    actor: z.string().meta({ description: 'token name' }),
    grafana_user: z.string().nullable(),
    request_id: z.string().nullable(),
    action: z.enum(['create', 'update', 'delete']),
    object_type: z.string(),
    object_id: z.number().int().nullable(),
    object_repr: z.string(),
    before: z.unknown(),
    after: z.unknown(),
  })
  .meta({ id: 'AuditEntry' });

export const AuditList = z.object({ count: z.number().int(), results: z.array(AuditEntry) }).meta({ id: 'AuditList' });

export type AuditEntry = z.infer<typeof AuditEntry>;
