// The README's configuration table documents every setting the exporter reads.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { ENV_VARS } from '../src/config/schema.js';

it('lists every environment variable with its file key', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const v of ENV_VARS) {
    assert.match(readme, new RegExp(`\\| \`${v.name}\` \\| \`${v.path.join('\\.')}\` \\|`), `${v.name} is documented`);
  }
});
