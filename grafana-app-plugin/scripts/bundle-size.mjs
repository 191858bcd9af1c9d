// Reports the plugin's JavaScript as Grafana loads it: module.js (the initial load), the
// chunks pages load on demand, and the nested plugins' modules (datasource/module.js,
// panels/<name>/module.js), which Grafana loads only when a dashboard uses them; raw and gzip. Grafana's shared packages are webpack externals
// and not in dist/, so every byte counted here is the plugin's own.
// Usage: node scripts/bundle-size.mjs [--json FILE]   (after npm run build)
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const DIST = new URL('../dist/', import.meta.url).pathname;
const INITIAL_LIMIT = 250 * 1024;

if (!existsSync(join(DIST, 'module.js'))) {
  console.error('no dist/module.js: run npm run build first');
  process.exit(2);
}
// Nested plugins: every folder of dist/ with a plugin.json and a module.js.
const nested = (dir) =>
  readdirSync(join(DIST, dir), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => {
      const sub = dir ? `${dir}/${e.name}` : e.name;
      const here = existsSync(join(DIST, sub, 'plugin.json')) && existsSync(join(DIST, sub, 'module.js'));
      return [...(here ? [`${sub}/module.js`] : []), ...nested(sub)];
    });
const files = [...readdirSync(DIST).filter((f) => f.endsWith('.js')), ...nested('')];
const rows = files.map((f) => {
  const data = readFileSync(join(DIST, f));
  return { file: f, bytes: statSync(join(DIST, f)).size, gzip: gzipSync(data, { level: 9 }).length };
}).sort((a, b) => (a.file === 'module.js' ? -1 : b.file === 'module.js' ? 1 : b.gzip - a.gzip));
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const initial = rows.find((r) => r.file === 'module.js');
const total = rows.reduce((a, r) => ({ bytes: a.bytes + r.bytes, gzip: a.gzip + r.gzip }), { bytes: 0, gzip: 0 });
console.log('| file | raw | gzip |');
console.log('|---|---|---|');
const note = (f) => (f === 'module.js' ? ' (initial load)' : f.includes('/') ? ' (nested plugin, loaded when used)' : '');
for (const r of rows) {console.log(`| ${r.file}${note(r.file)} | ${kib(r.bytes)} | ${kib(r.gzip)} |`);}
console.log(`| all ${rows.length} files | ${kib(total.bytes)} | ${kib(total.gzip)} |`);
const pass = initial.gzip < INITIAL_LIMIT;
console.log(`\ninitial load (module.js) ${kib(initial.gzip)} gzip; target < ${kib(INITIAL_LIMIT)}: ${pass ? 'yes' : 'NO'}`);
const out = process.argv.indexOf('--json');
if (out > 0) {writeFileSync(process.argv[out + 1], JSON.stringify({ rows, total, initialGzip: initial.gzip, pass }, null, 2));}
process.exit(pass ? 0 : 1);
