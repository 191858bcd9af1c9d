// The module rules `npm run lint` enforces (eslint.config.mjs, .dependency-cruiser.cjs), shown to
// fire: SQL outside a store module and IPAM's store outside IPAM are lint errors; the source tree
// itself is clean (and has no import cycles: `depcruise src`, also run by `npm run lint`).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const cwd = fileURLToPath(new URL('..', import.meta.url));
const eslint = new ESLint({ cwd });

async function problems(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('SQL lives in store modules', () => {
  const sql = [
    "export const q = 'SELECT * FROM addresses WHERE ip_key = ?';",
    'export const q = (t: string) => `DELETE FROM ${t} WHERE id = ?`;',
    "export const c = 'a.mac IS NOT NULL AND h.mac IS NOT NULL';",
    'export function f(db: { prepare(s: string): unknown }, s: string) { return db.prepare(s); }',
  ];

  it('is an error in a service, an adapter or a route', async () => {
    for (const code of sql) {
      for (const file of [
        'src/discovery/service.ts',
        'src/discovery/conflicts.ts',
        'src/server.ts',
        'src/audit/log.ts',
        'src/ipam/metrics.ts',
      ]) {
        const found = await problems(code, file);
        assert.ok(
          found.some((p) => p.startsWith('no-restricted-syntax: SQL belongs in a store module')),
          `${file}: ${code} → ${found.join('; ')}`,
        );
      }
    }
  });

  it('is allowed in store.ts and src/store/ only', async () => {
    for (const code of sql) {
      for (const file of ['src/discovery/store.ts', 'src/store/migrations.ts', 'src/store/import-journal.ts']) {
        assert.deepEqual(await problems(code, file), [], `${file}: ${code}`);
      }
    }
  });

  it('leaves prose and regular expressions alone', async () => {
    const code =
      "export const m = 'select a subnet, then delete from the list'; export const r = /^(\\d+)$/.exec('1');";
    assert.deepEqual(await problems(code, 'src/ipam/service.ts'), []);
  });
});

describe('IPAM owns its tables', () => {
  const code =
    "import { IpamService } from '../ipam/service.js';\nexport const s = (i: IpamService) => IpamService.storeOf(i);";

  it('refuses IpamService.storeOf outside src/ipam/ and server.ts', async () => {
    const found = await problems(code, 'src/discovery/service.ts');
    assert.ok(
      found.some((p) => p.startsWith('no-restricted-properties')),
      found.join('; '),
    );
    assert.deepEqual(await problems(code.replace('../ipam/service.js', './service.js'), 'src/ipam/csv.ts'), []);
  });
});

it('the sources break none of these rules', async () => {
  const results = await eslint.lintFiles(['src']);
  const rules = new Set(['no-restricted-syntax', 'no-restricted-properties']);
  const found = results.flatMap((r) =>
    r.messages.filter((m) => rules.has(m.ruleId ?? '')).map((m) => `${r.filePath}:${m.line} ${m.message}`),
  );
  assert.deepEqual(found, []);
});
