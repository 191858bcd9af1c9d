// The OpenAPI document from the route registry, with every `pattern` a plain ECMA-262 source.
import { OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';

type Definitions = ConstructorParameters<typeof OpenApiGeneratorV3>[0];
type DocumentInfo = Parameters<OpenApiGeneratorV3['generateDocument']>[0];
type Document = ReturnType<OpenApiGeneratorV3['generateDocument']>;

export function openApiDocument(definitions: Definitions, info: DocumentInfo): Document {
  const doc = new OpenApiGeneratorV3(definitions).generateDocument(info);
  fixPatterns(doc);
  return doc;
}

/**
 * zod-to-openapi writes a regex as String(regex) without its first and last '/', which leaves the
 * flags of /…/u behind ('^[\p{L}]…$/u'): a client compiling that rejects every value. Patterns
 * are ECMA-262 sources and tools compile them Unicode-aware, so the `u` flag is simply dropped;
 * a flag that changes what matches (i, m, s, v) cannot be said in a pattern and stops the start,
 * so a schema needing one has to be rewritten (or given its own pattern with .meta) instead.
 */
export function fixPatterns(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) fixPatterns(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const object = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(object)) {
    if (key === 'pattern' && typeof value === 'string') {
      object[key] = patternSource(value);
    } else if (key !== 'example' && key !== 'examples' && key !== 'default' && key !== 'enum') {
      fixPatterns(value);
    }
  }
}

/** The regex source of a pattern that may end in '/flags' (an unescaped '/' outside a class). */
export function patternSource(pattern: string): string {
  const m = /\/([a-z]+)$/.exec(pattern);
  if (!m) return pattern;
  // '/' inside a source is always escaped outside a character class ('\/'), and a class cannot be
  // open at the end of a valid source: an unescaped '/' before the trailing letters ends the source.
  let backslashes = 0;
  for (let i = m.index - 1; i >= 0 && pattern[i] === '\\'; i--) backslashes += 1;
  if (backslashes % 2 === 1) return pattern;
  const flags = m[1]!;
  if (!/^[dgimsuvy]+$/.test(flags)) return pattern;
  const unsupported = [...flags].filter((f) => 'imsv'.includes(f));
  if (unsupported.length > 0) {
    throw new Error(
      `OpenAPI pattern ${JSON.stringify(pattern)} needs regex flags ${unsupported.join('')}, which a pattern cannot carry`,
    );
  }
  return pattern.slice(0, m.index);
}
