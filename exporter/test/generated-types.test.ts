// The plugin's generated API types follow the exporter's response schemas: a field added to a
// component schema shows up in grafana-app-plugin/src/api/openapi.gen.ts, so the freshness check
// (`npm run check:api`, part of `npm run lint`) fails until `npm run generate:api` is run.
// Same generation code as that script (scripts/generate-api-types.mjs), run in memory.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, it } from 'node:test';

interface Generator {
  OUT: { document: string; types: string; limits: string };
  exporterDocument(): Promise<OpenApiDocument>;
  generate(document: OpenApiDocument): Promise<Record<string, string>>;
}
interface OpenApiDocument {
  components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
}

const FIELD = 'added_by_generated_types_test';
let generator: Generator;
let document: OpenApiDocument;
let committed: string;

before(async () => {
  // A .mjs outside this package: imported by URL so tsc does not look for its declarations.
  generator = (await import(new URL('../../scripts/generate-api-types.mjs', import.meta.url).href)) as Generator;
  document = await generator.exporterDocument();
  committed = readFileSync(generator.OUT.types, 'utf8');
});

it('generates the committed types from the current document (the check passes)', async () => {
  const outputs = await generator.generate(document);
  assert.equal(outputs[generator.OUT.types], committed, 'openapi.gen.ts is stale: run `npm run generate:api`');
});

it('a property added to a response schema changes the generated types (the check fails)', async () => {
  const changed = structuredClone(document);
  const subnet = changed.components.schemas.Subnet;
  assert.ok(subnet?.properties, 'the document has a Subnet schema with properties');
  assert.equal(subnet.properties[FIELD], undefined);
  subnet.properties[FIELD] = { type: 'string' };
  subnet.required = [...(subnet.required ?? []), FIELD];

  const types = (await generator.generate(changed))[generator.OUT.types]!;
  assert.notEqual(types, committed);
  const block = /\n {4}Subnet: \{\n([\s\S]*?)\n {4}\};/.exec(types)?.[1];
  assert.ok(block, 'the generated types declare Subnet');
  assert.match(block, new RegExp(`\\n {6}${FIELD}: string;`));
  assert.doesNotMatch(committed, new RegExp(FIELD));
});
