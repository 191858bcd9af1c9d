// Test-mode check of API answers against the schemas their routes declare. Off in production
// (nothing here runs then); the test helpers turn it on with LANSCAPE_VALIDATE_RESPONSES=1, so
// an undeclared field, a missing field, a wrong type or an undeclared status fails the test that
// made the request instead of drifting silently away from the OpenAPI document.
import { z } from 'zod';

/** Whether this process checks its answers: the test helpers set LANSCAPE_VALIDATE_RESPONSES=1. */
export function responseChecksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.LANSCAPE_VALIDATE_RESPONSES === '1';
}

export interface DeclaredResponse {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
}

/**
 * Why an answer breaks its route's declaration, or null when it keeps it. `body` is what the
 * client receives (after JSON serialisation); `undefined` means no body. Non-JSON bodies (CSV)
 * are checked for their status only.
 */
export function responseMismatch(
  route: string,
  declared: Record<number, DeclaredResponse>,
  status: number,
  body: unknown,
  contentType: string | undefined,
): string | null {
  const spec = declared[status];
  if (!spec)
    return `${route} answered ${status}, which its route does not declare (declared: ${Object.keys(declared).join(', ')})`;
  if (contentType !== undefined && !/json/i.test(contentType)) return null;
  if (!spec.schema) {
    return body === undefined
      ? null
      : `${route} answered ${status} with a body, but its route declares none for ${status}`;
  }
  if (body === undefined) return `${route} answered ${status} without a body, but its route declares one`;
  const result = strict(spec.schema).safeParse(body);
  if (result.success) return null;
  const issues = result.error.issues.slice(0, 5).map((i) => {
    const where = i.path.length ? i.path.map(String).join('.') : '(body)';
    return `${where}: ${i.code === 'unrecognized_keys' ? `undeclared field(s) ${i.keys.join(', ')}` : i.message}`;
  });
  const more = result.error.issues.length > 5 ? ` (and ${result.error.issues.length - 5} more)` : '';
  return `${route} answered ${status} with a body its schema rejects: ${issues.join('; ')}${more}`;
}

/** The answer as the client sees it: JSON.stringify drops undefined and turns dates into strings. */
export function asSent(body: unknown): unknown {
  return body === undefined ? undefined : (JSON.parse(JSON.stringify(body)) as unknown);
}

const strictCache = new WeakMap<z.ZodType, z.ZodType>();

/**
 * A copy of the schema in which every object, however deeply nested (arrays, unions, records,
 * nullable, optional, …), rejects keys it does not declare. zod's objects strip unknown keys
 * by default, which would let an undeclared field pass. Checks (min, max, regex) are kept:
 * each node is cloned from its own definition with only its inner schemas replaced.
 */
export function strict<T extends z.ZodType>(schema: T): T {
  return strictOf(schema, 0) as T;
}

function strictOf(schema: z.ZodType, depth: number): z.ZodType {
  const cached = strictCache.get(schema);
  if (cached) return cached;
  if (depth > 64) return schema;
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  const s = (inner: unknown) => strictOf(inner as z.ZodType, depth + 1);
  let out: z.ZodType;
  switch (def.type) {
    case 'object': {
      const shape = Object.fromEntries(
        Object.entries(def.shape as Record<string, z.ZodType>).map(([k, v]) => [k, s(v)]),
      );
      // A declared catchall (z.looseObject, .catchall(x)) is the schema's own choice: kept.
      const catchall = def.catchall === undefined ? z.never() : s(def.catchall);
      out = schema.clone({ ...def, shape, catchall } as never);
      break;
    }
    case 'array':
      out = schema.clone({ ...def, element: s(def.element) } as never);
      break;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      out = schema.clone({ ...def, innerType: s(def.innerType) } as never);
      break;
    case 'union':
      out = schema.clone({ ...def, options: (def.options as z.ZodType[]).map(s) } as never);
      break;
    case 'record':
      out = schema.clone({ ...def, valueType: s(def.valueType) } as never);
      break;
    case 'tuple':
      out = schema.clone({
        ...def,
        items: (def.items as z.ZodType[]).map(s),
        rest: def.rest ? s(def.rest) : def.rest,
      } as never);
      break;
    case 'pipe':
      out = schema.clone({ ...def, in: s(def.in), out: s(def.out) } as never);
      break;
    case 'lazy': {
      const getter = def.getter as () => z.ZodType;
      out = schema.clone({ ...def, getter: () => s(getter()) } as never);
      break;
    }
    // Intersections merge the keys of both sides, so neither side alone may be strict; scalars
    // (string, number, enum, literal, unknown, …) have nothing to tighten.
    default:
      out = schema;
  }
  strictCache.set(schema, out);
  return out;
}
