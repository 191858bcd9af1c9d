// Response schemas of CSV imports: the report and the job. The routes (http.ts) declare them
// and the job view of csv-import.ts is their z.infer.
import { z } from 'zod';
import { CSV_KINDS } from './csv.js';

export const ImportReportSchema = z
  .object({
    kind: z.enum(CSV_KINDS),
    dry_run: z.boolean(),
    applied: z.boolean(),
    rows: z.number().int(),
    valid: z.number().int(),
    errors: z.array(
      z.object({ row: z.number().int(), line: z.number().int(), field: z.string().optional(), message: z.string() }),
    ),
  })
  .meta({ id: 'ImportReport' });

export const ImportJobSchema = ImportReportSchema.extend({
  id: z.number().int(),
  state: z.enum(['queued', 'running', 'done', 'failed']),
  phase: z.enum(['validating', 'applying', 'compensating']).nullable(),
  progress: z.number().min(0).max(1),
  checked: z.number().int().meta({ description: 'rows checked so far' }),
  stored: z.number().int().meta({ description: 'rows stored so far (0 again once a failed import was removed)' }),
  error_count: z.number().int().meta({ description: 'row errors in all; errors lists the first 1,000' }),
  error: z.string().optional().meta({ description: 'why the job failed' }),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
}).meta({ id: 'ImportJob' });

export type ImportJobView = z.infer<typeof ImportJobSchema>;
