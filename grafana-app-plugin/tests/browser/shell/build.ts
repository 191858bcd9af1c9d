// Builds the test shell (entry.tsx and everything it shares with the plugin) into one browser
// bundle, in memory. Same resolution rules as a host app: the packages' ESM builds, production
// mode, and the @emotion/css that @grafana/ui ships with (the host's emotion instance).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';

const here = __dirname;
const require_ = createRequire(join(here, 'entry.tsx'));

function packageDir(name: string, from?: string): string {
  const r = from ? createRequire(join(from, 'x.js')) : require_;
  return dirname(r.resolve(`${name}/package.json`));
}

export interface ShellBundle {
  js: string;
  css: string;
  bytes: number;
  ms: number;
}

export async function buildShell(): Promise<ShellBundle> {
  const started = Date.now();
  const ui = packageDir('@grafana/ui');
  const uiEmotion = join(ui, 'node_modules', '@emotion', 'css');
  const result = await build({
    entryPoints: [join(here, 'entry.tsx')],
    bundle: true,
    write: false,
    outdir: join(here, 'out'),
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'error',
    jsx: 'transform',
    define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
    alias: existsSync(uiEmotion) ? { '@emotion/css': resolve(uiEmotion) } : {},
    mainFields: ['browser', 'module', 'main'],
    conditions: ['browser', 'import', 'module', 'default'],
    loader: {
      '.svg': 'dataurl',
      '.png': 'dataurl',
      '.woff': 'empty',
      '.woff2': 'empty',
      '.ttf': 'empty',
      '.eot': 'empty',
    },
  });
  const files = result.outputFiles ?? [];
  const js = files.find((f) => f.path.endsWith('.js'))?.text ?? '';
  const css = files.find((f) => f.path.endsWith('.css'))?.text ?? '';
  return { js, css, bytes: js.length + css.length, ms: Date.now() - started };
}

if (require.main === module) {
  buildShell().then(
    (b) => console.log(`shell bundle: ${(b.bytes / 1e6).toFixed(2)} MB in ${b.ms} ms`),
    (e) => {
      console.error(e);
      process.exit(1);
    }
  );
}
