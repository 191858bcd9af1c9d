// Generic pieces of the API's zod schemas, shared by every domain's routes: ids in paths and
// queries, paging, list envelopes, timestamps. Domain shapes stay in the domains.
import { z } from 'zod';

/** An RFC 3339 time as the API writes it (UTC with milliseconds). */
export const Timestamp = z.string().meta({ description: 'RFC 3339 timestamp', example: '2026-11-22T08:31:00.000Z' });

/** A positive integer id in a path or query: plain decimal digits only (no 0x6, 6e0, " 6"). */
export const Id = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'expected a positive integer id')
  .transform(Number)
  .pipe(z.number().int().max(Number.MAX_SAFE_INTEGER));

export const IdParams = z.strictObject({ id: Id });

/**
 * A whole number in a query string, min to max: plain decimal digits only. z.coerce.number()
 * would take Number()'s wider syntax: 0x10, 1e3, " 5", "+5", and "" as 0. Only decimal text is
 * turned into a number, anything else fails the number check; OpenAPI still says integer.
 */
export const decimalInt = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^(0|[1-9][0-9]*)$/.test(v) ? Number(v) : v),
    z
      .number({
        error: (issue) =>
          issue.code === 'invalid_type' ? 'expected a whole number in plain decimal digits' : undefined,
      })
      .int()
      .min(min)
      .max(max),
  );

/** limit/offset query fields of a paged list. */
export const Page = (maxLimit = 1000, defaultLimit = 100) => ({
  limit: decimalInt(1, maxLimit)
    .default(defaultLimit)
    .meta({ description: `page size (1–${maxLimit})` }),
  offset: decimalInt(0, Number.MAX_SAFE_INTEGER).default(0),
});

/** The list envelope: `count` of all matches, `results` of this page. */
export const listOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ count: z.number().int(), results: z.array(item) }).meta({ id: name });
/** A response body of the listOf shape. */
export const listed = <T>(results: T[]) => ({ count: results.length, results });
